"""The bundle's graph: record fields -> the model's named inputs -> probabilities, as ONNX.

``BundleGraph`` puts, in front of a fitted model's ``graph_module``, the module of every
input it reads, built from that input's fitted state (a backbone, a resize, the text
encoder), so that the exported graph takes the record fields' graph inputs (canvas pixels
for ``poster``, token ids for ``title``) and nothing is re-made outside it. An optional input
also gets its presence, ``name + "?"``. An input made by a ready ONNX graph (an int8
backbone, ``InputSpec.graph_file``) is not traced: the torch part takes that input as given,
and the ready graph is spliced in front of it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from ..atomic import temp_folder, write_bytes
from ..features.onnx_export import export_graph
from ..features.runtime import open_session
from ..features.specs import FIELDS, InputSpec
from ..models.base import Estimator

OUTPUT = "probabilities"


class BundleGraph(nn.Module):
    """Field inputs, then the ``given`` inputs (made outside the module) -> probabilities."""

    def __init__(self, fields: list[str], specs: list[InputSpec], fitted: dict, model: nn.Module,
                 given: list[str] | None = None):
        super().__init__()
        self.fields = list(fields)
        self.given = list(given or [])
        self.names = [s.name for s in specs]
        self.from_field = [s.field.name for s in specs]
        self.optional = [not s.required for s in specs]
        self.makers = nn.ModuleList(s.graph_module(fitted[s.name]) for s in specs)
        self.model = model

    def forward(self, *graph_inputs: torch.Tensor) -> torch.Tensor:
        by_field = dict(zip(self.fields, graph_inputs, strict=False))
        inputs = dict(zip(self.given, graph_inputs[len(self.fields):], strict=True))
        for name, field, make, optional in zip(self.names, self.from_field, self.makers,
                                               self.optional, strict=True):
            inputs[name] = make(by_field[field])
            if optional:  # "name?": 1.0 where the record has the field
                inputs[name + "?"] = FIELDS[field].present(by_field[field])
        return self.model(inputs)


def fields_of(specs: list[InputSpec]) -> list[str]:
    """The record fields the inputs are made from, in order, once each."""
    return list(dict.fromkeys(s.field.name for s in specs))


def export_bundle_graph(model: Estimator, specs: list[InputSpec], fitted: dict,
                        path: Path) -> Path:
    """Export ``model`` behind its inputs (``fitted``: each one's fitted state) to ``path``:
    traced and checked against torch; ready-made input graphs spliced in and the whole
    checked against running the parts."""
    by_name = {s.name: s for s in specs}
    used = [by_name[name] for name in model.inputs]
    fields = fields_of(used)
    files = {s.name: s.graph_file(fitted[s.name]) for s in used}
    ready = [s for s in used if files[s.name] is not None]
    traced = [s for s in used if files[s.name] is None]
    if any(not s.required for s in ready):
        raise ValueError("a ready-made graph can only make a required input")
    if not ready:
        graph = BundleGraph(fields, used, fitted, model.graph_module())
        return export_graph(graph, path, {f: FIELDS[f].example for f in fields},
                            output_names=(OUTPUT,), more_axes=_axes(fields))
    parts = {s.name: onnx.load(str(files[s.name])) for s in ready}
    examples = {f: FIELDS[f].example for f in fields_of(traced)}
    for s in ready:
        examples[s.name] = partial(_ready_example, parts[s.name], s)
    graph = BundleGraph(fields_of(traced), traced, fitted, model.graph_module(),
                        [s.name for s in ready])
    with temp_folder() as tmp:
        head = onnx.load(str(export_graph(graph, Path(tmp) / "head.onnx", examples,
                                          output_names=(OUTPUT,), more_axes=_axes(fields))))
    whole = onnx.ModelProto()
    whole.CopyFrom(head)
    for i, s in enumerate(ready):
        splice(whole, parts[s.name], feeds=s.field.name, gives=s.name, prefix=f"ready{i}/")
    order = {f: i for i, f in enumerate(fields)}
    inputs = sorted(whole.graph.input, key=lambda v: order[v.name])
    del whole.graph.input[:]
    whole.graph.input.extend(inputs)
    onnx.checker.check_model(whole)
    _check_splice(whole, head, parts, ready, fields)
    write_bytes(path, whole.SerializeToString())
    return path


def _axes(fields: list[str]) -> dict[str, dict[int, str]]:
    """Graph input axes of any length (a text's tokens: a batch is cut to its longest)."""
    return {f: FIELDS[f].axes for f in fields if FIELDS[f].axes}


def splice(main: onnx.ModelProto, part: onnx.ModelProto, *, feeds: str, gives: str,
           prefix: str) -> None:
    """Put ``part`` (one input, one output) in front of ``main``, in place: its input becomes
    ``main``'s graph input ``feeds`` (added if absent), its output ``main``'s input ``gives``
    (no longer a graph input). ``part``'s own names get ``prefix``."""
    part = onnx.compose.add_prefix(part, prefix)
    (p_in,), (p_out,) = part.graph.input, part.graph.output
    rename = {p_in.name: feeds, p_out.name: gives}
    for node in part.graph.node:
        node.input[:] = [rename.get(x, x) for x in node.input]
        node.output[:] = [rename.get(x, x) for x in node.output]
    g = main.graph
    nodes = [*part.graph.node, *g.node]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(part.graph.initializer)
    kept = [v for v in g.input if v.name != gives]
    if feeds not in {v.name for v in kept}:
        entry = onnx.ValueInfoProto()
        entry.CopyFrom(p_in)
        entry.name = feeds
        kept.append(entry)
    del g.input[:]
    g.input.extend(kept)
    versions = {o.domain: o.version for o in main.opset_import}
    for o in part.opset_import:
        versions[o.domain] = max(versions.get(o.domain, 0), o.version)
    del main.opset_import[:]
    main.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in versions.items())


def _ready_example(part: onnx.ModelProto, spec: InputSpec, n: int) -> torch.Tensor:
    """A ready-made graph's output for a random example of its field's input."""
    return torch.from_numpy(_run(part, {0: spec.field.example(n).numpy()})[0])


def _run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    """Outputs of ``model`` for feeds keyed by input name or position."""
    session = open_session(model.SerializeToString())
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {names[k] if isinstance(k, int) else k: v
                              for k, v in feeds.items()})


def _check_splice(whole, head, parts, ready: list[InputSpec], fields: list[str],
                  batch: int = 3) -> None:
    """The spliced graph must give what its parts give when run one after another."""
    feeds = {f: FIELDS[f].example(batch).numpy() for f in fields}
    made = {s.name: _run(parts[s.name], {0: feeds[s.field.name]})[0] for s in ready}
    head_feeds = {i.name: (made | feeds)[i.name] for i in head.graph.input}
    want = _run(head, head_feeds)[0]
    got = _run(whole, feeds)[0]
    if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
        raise RuntimeError(f"spliced bundle graph differs from its parts by "
                           f"{float(np.abs(got - want).max()):.3g}")

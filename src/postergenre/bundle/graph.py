"""The bundle's graph: record fields -> the model's named inputs -> probabilities, as ONNX.

``BundleGraph`` puts, in front of a fitted model's ``graph_module``, the module of every
source it reads (a backbone, a resize, the text encoder), so that the exported graph takes
the record fields' graph inputs (canvas pixels for ``poster``, token ids for ``title``) and
nothing is re-made outside it. An optional input also gets its presence, ``name + "?"``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..features.fields import FIELDS
from ..features.onnx_export import export_graph
from ..features.sources import Source
from ..models.base import Estimator

OUTPUT = "probabilities"


class BundleGraph(nn.Module):
    def __init__(self, fields: list[str], sources: list[Source], model: nn.Module):
        super().__init__()
        self.fields = list(fields)
        self.names = [s.name for s in sources]
        self.from_field = [s.field for s in sources]
        self.optional = [not s.required for s in sources]
        self.makers = nn.ModuleList(s.graph_module() for s in sources)
        self.model = model

    def forward(self, *field_inputs: torch.Tensor) -> torch.Tensor:
        by_field = dict(zip(self.fields, field_inputs, strict=True))
        inputs = {}
        for name, field, make, optional in zip(self.names, self.from_field, self.makers,
                                               self.optional, strict=True):
            inputs[name] = make(by_field[field])
            if optional:  # "name?": 1.0 where the record has the field
                inputs[name + "?"] = FIELDS[field].present(by_field[field])
        return self.model(inputs)


def fields_of(sources: list[Source]) -> list[str]:
    """The record fields the sources are made from, in order, once each."""
    return list(dict.fromkeys(s.field for s in sources))


def export_bundle_graph(model: Estimator, sources: list[Source], path: Path) -> Path:
    """Export ``model`` behind its sources to ``path`` (checked against torch)."""
    by_name = {s.name: s for s in sources}
    used = [by_name[name] for name in model.inputs]
    fields = fields_of(used)
    graph = BundleGraph(fields, used, model.graph_module())
    return export_graph(graph, path, {f: FIELDS[f].example for f in fields},
                        output_names=(OUTPUT,))

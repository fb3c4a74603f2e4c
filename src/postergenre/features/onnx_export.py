"""Export torch modules to ONNX, checked against torch before the file appears.

``export_graph`` exports a module of named inputs (the bundle graph); ``export_module`` is
its one-input case for modules that take canvas pixels; ``backbone_onnx`` exports each
registered backbone once per version into ``<cache>/onnx/``.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from ..atomic import atomic_path
from ..cache import default_cache_dir
from .backbones import BackboneFeatures, BackboneSpec, resolve
from .canvas import CANVAS_HW
from .runtime import open_session

OPSET = 17
INPUT_NAME = "pixels"


class ExportError(RuntimeError):
    """The exported graph does not reproduce the torch module."""


Example = Callable[[int], torch.Tensor]  # rows -> a random input batch of that many rows


def canvas_example(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, *CANVAS_HW, generator=torch.Generator().manual_seed(seed)) * 255


def export_graph(
    module: nn.Module,
    path: str | os.PathLike,
    examples: dict[str, Example],
    *,
    output_names: tuple[str, ...],
    metadata: dict[str, str] | None = None,
    more_axes: dict[str, dict[int, str]] | None = None,
    opset: int = OPSET,
    rtol: float = 1e-3,
    check_batch: int = 3,
) -> Path:
    """Trace ``module`` (positional inputs named and shaped by ``examples``) to ONNX at
    ``path``, atomically, with a dynamic batch axis on every input and output (and the
    ``more_axes`` given, e.g. a token axis).

    Before the file appears, onnxruntime's outputs on a fresh random batch are compared with
    torch's; raises ``ExportError`` if the max abs difference of any output exceeds
    ``rtol * max(1, max |torch output|)``. Exporter warnings are kept from the terminal.
    """
    path = Path(path)
    module = module.eval()
    names = list(examples)
    dynamic = {name: {0: "batch", **(more_axes or {}).get(name, {})}
               for name in (*names, *output_names)}
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarning / deprecation chatter from the exporter
        torch.onnx.export(
            module,
            tuple(make(2) for make in examples.values()),
            # torch's signature lists paths only; the TorchScript exporter writes to a file too
            buf,  # type: ignore[arg-type]
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=list(output_names),
            dynamic_axes=dynamic,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buf.getvalue())
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    _check_against_torch(module, data, examples, output_names, rtol, check_batch)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def export_module(module: nn.Module, path: str | os.PathLike, *,
                  output_names: tuple[str, ...] = ("embedding",),
                  metadata: dict[str, str] | None = None, **kwargs) -> Path:
    """``export_graph`` for a module of one input, canvas pixels named ``pixels``."""
    meta = {"canvas_hw": json.dumps(list(CANVAS_HW)), **(metadata or {})}
    return export_graph(module, path, {INPUT_NAME: canvas_example}, output_names=output_names,
                        metadata=meta, **kwargs)


def _check_against_torch(module, data: bytes, examples: dict[str, Example], output_names,
                         rtol: float, batch: int) -> None:
    inputs = [make(batch) for make in examples.values()]
    with torch.no_grad():
        ref = module(*inputs)
    refs = ref if isinstance(ref, tuple | list) else (ref,)
    feeds = {name: x.numpy() for name, x in zip(examples, inputs, strict=True)}
    got = open_session(data).run(list(output_names), feeds)
    for name, r, g in zip(output_names, refs, got, strict=True):
        r = r.numpy()
        if g.shape != r.shape:
            raise ExportError(f"ONNX output {name!r} has shape {g.shape}, torch {r.shape}")
        diff, tol = float(np.abs(g - r).max()), rtol * max(1.0, float(np.abs(r).max()))
        if not diff <= tol:
            raise ExportError(f"ONNX output {name!r} differs from torch by {diff:.3g} > {tol:.3g}")


def onnx_path(backbone: str | BackboneSpec, cache_dir: str | os.PathLike | None = None) -> Path:
    spec = resolve(backbone)
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / "onnx" / f"{spec.name}@{spec.version}.onnx"


def backbone_onnx(backbone: str | BackboneSpec, cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the backbone's ONNX graph (canvas pixels -> embedding), exporting it if absent."""
    spec = resolve(backbone)
    path = onnx_path(spec, cache_dir)
    if not path.exists():
        meta = {"backbone": json.dumps(spec.to_dict())}
        export_module(BackboneFeatures(spec), path, metadata=meta)
    return path

"""Export canvas-pixel torch modules to ONNX, checked against torch, cached on disk.

``export_module`` works for any module that takes canvas pixels (a ``BackboneFeatures`` or a
larger module that wraps one or several of them plus a head); ``backbone_onnx`` exports each
registered backbone once per version into ``<cache>/onnx/``.
"""

from __future__ import annotations

import io
import json
import os
import warnings
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


def export_module(
    module: nn.Module,
    path: str | os.PathLike,
    *,
    output_names: tuple[str, ...] = ("embedding",),
    metadata: dict[str, str] | None = None,
    opset: int = OPSET,
    rtol: float = 1e-3,
    check_batch: int = 3,
) -> Path:
    """Trace ``module`` (canvas pixels -> outputs) to ONNX at ``path``, atomically.

    Input ``pixels``: float32 (batch, 3, *CANVAS_HW) with a dynamic batch axis. Before the
    file appears, onnxruntime's output on a random batch is compared with torch's; raises
    ``ExportError`` if the max abs difference exceeds ``rtol * max(1, max |torch output|)``.
    """
    path = Path(path)
    module = module.eval()
    example = torch.rand(2, 3, *CANVAS_HW, generator=torch.Generator().manual_seed(0)) * 255
    dynamic = {name: {0: "batch"} for name in (INPUT_NAME, *output_names)}
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarning / deprecation chatter from the exporter
        torch.onnx.export(
            module,
            (example,),
            buf,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=list(output_names),
            dynamic_axes=dynamic,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buf.getvalue())
    meta = {"canvas_hw": json.dumps(list(CANVAS_HW)), **(metadata or {})}
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    _check_against_torch(module, data, output_names, rtol, check_batch)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def _check_against_torch(module, data: bytes, output_names, rtol: float, batch: int) -> None:
    x = torch.rand(batch, 3, *CANVAS_HW, generator=torch.Generator().manual_seed(1)) * 255
    with torch.no_grad():
        ref = module(x)
    refs = ref if isinstance(ref, tuple | list) else (ref,)
    got = open_session(data).run(list(output_names), {INPUT_NAME: x.numpy()})
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

"""Fusing backbones and a trained head into one ONNX graph: canvas pixels → probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..atomic import write_with
from ..features.backbones import BackboneFeatures
from ..features.canvas import CANVAS_HW
from ..models.heads import HeadModule


class FusedModel(nn.Module):
    """Each backbone (its own resize and normalisation inside) → concat → head → sigmoid.

    With ``tta`` every backbone's embedding is averaged with that of the mirrored poster,
    exactly as the cached training embeddings were made.
    """

    def __init__(self, backbones: list[str], head: HeadModule, tta: bool = False):
        super().__init__()
        self.backbones = nn.ModuleList(BackboneFeatures(name) for name in backbones)
        self.head = head
        self.tta = tta

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        feats = []
        for backbone in self.backbones:
            f = backbone(pixels)
            if self.tta:
                f = (f + backbone(torch.flip(pixels, dims=[3]))) / 2
            feats.append(f)
        return self.head(torch.cat(feats, dim=1))


def export_fused(model: FusedModel, path: Path, opset: int = 17) -> Path:
    """Export to ONNX (dynamic batch) atomically and check it against torch on random input."""
    import onnxruntime as ort

    model = model.eval()
    h, w = CANVAS_HW
    example = torch.rand(2, 3, h, w) * 255

    def write(tmp: Path) -> None:
        torch.onnx.export(
            model,
            (example,),
            str(tmp),
            input_names=["pixels"],
            output_names=["probabilities"],
            dynamic_axes={"pixels": {0: "batch"}, "probabilities": {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )

    write_with(path, write)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    check = torch.rand(3, 3, h, w) * 255
    with torch.no_grad():
        expected = model(check).numpy()
    got = session.run(None, {"pixels": check.numpy()})[0]
    diff = float(np.abs(got - expected).max())
    if diff > 1e-3:
        raise RuntimeError(f"fused ONNX graph differs from torch by {diff:.2e}")
    return path

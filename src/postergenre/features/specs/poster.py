"""The poster: the one required field, and the model inputs made from its canvas.

A poster (a path, bytes, a PIL image or an (H, W, 3) uint8 array) becomes the fixed canvas,
fed to the graph as float32 NCHW in [0, 255]. From it: a backbone's embedding
(``poster:NAME``, ``+flip`` averaged with the mirror image, ``@int8`` through its graph
quantised on a seeded sample of training posters) or the pixels at a model's size
(``poster:pixels-HxW``).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn

from ...data.images import to_rgb
from ..backbones import BackboneFeatures, resolve
from ..canvas import CANVAS_HW, CANVAS_REVISION, canvas, decode_canvas, load_canvas, to_batch
from ..embeddings import backbone_graph, embedding_producer
from ..onnx_export import canvas_example
from ..pixels import pixel_producer, resize_like_graph
from ..producer import Producer, file_keys
from ..quantize import Calibration, calibration_set, check_precision
from .base import Field, InputSpec, PathLike


def poster_canvas(value: Any) -> np.ndarray:
    """A poster as a path, bytes, a PIL image or an (H, W, 3) uint8 array -> its canvas."""
    if isinstance(value, np.ndarray):
        if value.dtype != np.uint8 or value.ndim != 3 or value.shape[2] != 3:
            raise ValueError(f"a poster array must be (H, W, 3) uint8, not {value.shape} "
                             f"{value.dtype}")
        return canvas(Image.fromarray(value, "RGB"))
    if isinstance(value, Image.Image):
        return canvas(to_rgb(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return decode_canvas(bytes(value))
    if isinstance(value, io.IOBase):
        return decode_canvas(value.read())
    if isinstance(value, str | os.PathLike):
        return load_canvas(Path(value))
    raise ValueError(f"a poster must be a path, bytes, a PIL image or an array, not "
                     f"{type(value).__name__}")


POSTER = Field(
    name="poster",
    type="image",
    prepare=poster_canvas,
    batch=to_batch,
    example=canvas_example,
    absent=lambda: np.zeros((*CANVAS_HW, 3), np.uint8),
    present=lambda pixels: torch.ones(pixels.shape[0]),
    required=True,
    help="The poster image.",
    preprocessing={
        "canvas_hw": list(CANVAS_HW),
        "canvas_revision": CANVAS_REVISION,
        "canvas": "decode to RGB (alpha on white), stretch to canvas, bilinear",
        "layout": "float32 NCHW in [0, 255]",
    },
)


class Embedding(nn.Module):
    """Canvas pixels -> a backbone's embedding, averaged with the mirror image's if ``tta``."""

    def __init__(self, backbone: str, tta: bool):
        super().__init__()
        self.backbone, self.tta = BackboneFeatures(backbone), tta

    def forward(self, pixels):
        emb = self.backbone(pixels)
        if self.tta:
            emb = (emb + self.backbone(pixels.flip(dims=[3]))) / 2
        return emb


@dataclass(frozen=True)
class Calibrated:
    """An int8 backbone's fitted state: the training posters it is quantised on."""

    calibration: Calibration
    cache_dir: str


@dataclass(frozen=True)
class BackboneEmbedding(InputSpec):
    """A backbone's embedding of the poster (``precision`` "fp32" or "int8")."""

    backbone: str
    tta: bool = False
    precision: str = "fp32"
    field = POSTER

    def __post_init__(self):
        check_precision(self.precision)
        resolve(self.backbone)
        if self.tta and self.precision != "fp32":
            raise ValueError("test-time flipping is for fp32 backbones; drop tta or use fp32")

    @property
    def name(self) -> str:  # type: ignore[override]
        return (f"poster:{resolve(self.backbone).name}" + ("+flip" if self.tta else "")
                + ("@int8" if self.precision == "int8" else ""))

    def fit(self, rows: pd.DataFrame, cache_dir: PathLike) -> Calibrated | None:
        """int8: the seeded sample of training posters its graph is calibrated on."""
        if self.precision == "fp32":
            return None
        if "train" not in rows:
            raise ValueError(f"{self.name} calibrates on a split's training posters: `train` "
                             "makes it")
        train = rows[rows["train"].to_numpy(bool)]
        keys = file_keys(list(train["path"]), list(train["sha256"]), {})
        return Calibrated(calibration_set(list(train["path"]), keys), str(cache_dir))

    def producer(self, fitted: Calibrated | None, cache_dir: PathLike) -> Producer:
        return embedding_producer(resolve(self.backbone), cache_dir, tta=self.tta,
                                  calibration=fitted.calibration if fitted else None)

    def graph_module(self, fitted: Any) -> nn.Module:
        return Embedding(resolve(self.backbone).name, self.tta)

    def graph_file(self, fitted: Calibrated | None) -> Path | None:
        if fitted is None:
            return None
        return backbone_graph(resolve(self.backbone), fitted.cache_dir, fitted.calibration)

    def describe(self, fitted: Calibrated | None) -> dict:
        out = {"backbone": resolve(self.backbone).to_dict(), "tta": self.tta,
               "precision": self.precision}
        if fitted is not None:
            out["calibration"] = fitted.calibration.describe()
        return out


class Resize(nn.Module):
    """Canvas pixels -> pixels at ``hw`` (the resize the pixel cache used)."""

    def __init__(self, hw: tuple[int, int]):
        super().__init__()
        self.hw = (int(hw[0]), int(hw[1]))

    def forward(self, pixels):
        return resize_like_graph(pixels, self.hw)


@dataclass(frozen=True)
class Pixels(InputSpec):
    """The poster's pixels at ``hw`` (for models trained on pixels)."""

    hw: tuple[int, int] = CANVAS_HW
    field = POSTER

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"poster:pixels-{int(self.hw[0])}x{int(self.hw[1])}"

    def producer(self, fitted: Any, cache_dir: PathLike) -> Producer:
        return pixel_producer((int(self.hw[0]), int(self.hw[1])), cache_dir)

    def graph_module(self, fitted: Any) -> nn.Module:
        return Resize(self.hw)

    def describe(self, fitted: Any) -> dict:
        return {"pixels_hw": [int(self.hw[0]), int(self.hw[1])],
                "resize": "bilinear, half-pixel centres"}

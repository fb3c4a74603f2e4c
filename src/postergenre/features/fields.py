"""Record fields a model can take, and how each becomes its graph input.

A record is one movie as a user gives it: ``{"poster": ..., "title": ..., ...}``. Each field
has a type, and the type says how a value becomes one row of the bundle graph's input of
that name. Today's field is the poster (type ``image``): a path, bytes, a PIL image or a
decoded uint8 array becomes the canvas (``canvas``), fed as float32 NCHW in [0, 255].
Adding an input (title, plot, ...) means adding a field here and a source in ``sources``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..data.images import ImageError, decode, load, to_rgb
from .canvas import CANVAS_HW, CANVAS_REVISION, canvas, to_batch
from .onnx_export import canvas_example


@dataclass(frozen=True)
class Field:
    """One record field: its type, how a value becomes a row, how rows become a batch."""

    name: str
    type: str
    prepare: Callable[[Any], np.ndarray]  # raises ``ImageError``/``ValueError`` on bad values
    batch: Callable[[list[np.ndarray]], np.ndarray]
    example: Callable[[int], torch.Tensor]  # a random graph input of n rows (export checks)
    preprocessing: dict = field(default_factory=dict)  # what the bundle records about it


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
        return canvas(decode(bytes(value)))
    if isinstance(value, io.IOBase):
        return canvas(decode(value.read()))
    if isinstance(value, str | os.PathLike):
        return canvas(load(Path(value)))
    raise ValueError(f"a poster must be a path, bytes, a PIL image or an array, not "
                     f"{type(value).__name__}")


POSTER = Field(
    name="poster",
    type="image",
    prepare=poster_canvas,
    batch=to_batch,
    example=canvas_example,
    preprocessing={
        "canvas_hw": list(CANVAS_HW),
        "canvas_revision": CANVAS_REVISION,
        "canvas": "decode to RGB (alpha on white), stretch to canvas, bilinear",
        "layout": "float32 NCHW in [0, 255]",
    },
)

FIELDS: dict[str, Field] = {f.name: f for f in (POSTER,)}

__all__ = ["FIELDS", "POSTER", "Field", "ImageError", "poster_canvas"]

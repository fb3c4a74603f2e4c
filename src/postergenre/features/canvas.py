"""The one place where a poster file becomes pixels: a fixed-size uint8 canvas.

Every poster, at training and at predict time, is decoded to RGB and stretched with PIL to
``CANVAS_HW`` (the IMDb thumbnail size the posters come in). Everything after that (resize to
a backbone's input, normalisation) happens inside the torch/ONNX graph, so it cannot drift.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..data.images import decode, load

CANVAS_HW = (268, 182)  # height, width: the posters' native size
CANVAS_REVISION = 1  # bump when ``canvas`` changes its output; part of every backbone's version
# a JPEG is decoded at a reduced DCT scale that keeps at least twice the canvas each way
# (either orientation), so the antialiased stretch still does the shrinking
DECODE_AT_LEAST = (2 * max(CANVAS_HW), 2 * max(CANVAS_HW))


def canvas(image: Image.Image) -> np.ndarray:
    """An RGB PIL image stretched to the canvas: uint8 array of shape ``(*CANVAS_HW, 3)``.

    Bilinear with PIL's antialiasing (its filter widens when shrinking); aspect is not kept.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    h, w = CANVAS_HW
    if image.size != (w, h):
        image = image.resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def load_canvas(path: str | Path) -> np.ndarray:
    """Decode one file to its canvas; raises ``ImageError`` for unreadable or bad files."""
    return canvas(load(path, DECODE_AT_LEAST))


def decode_canvas(data: bytes) -> np.ndarray:
    """Image bytes -> canvas (``ImageError`` if unusable)."""
    return canvas(decode(data, at_least=DECODE_AT_LEAST))


def to_batch(canvases: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Stack canvases (N, H, W, 3) uint8 into the graph input: float32 NCHW in [0, 255]."""
    arr = np.asarray(canvases)
    if arr.ndim != 4 or arr.shape[1:] != (*CANVAS_HW, 3):
        raise ValueError(f"expected canvases of shape (N, {CANVAS_HW[0]}, {CANVAS_HW[1]}, 3)")
    return np.ascontiguousarray(arr.transpose(0, 3, 1, 2), dtype=np.float32)

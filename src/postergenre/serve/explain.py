"""Occlusion sensitivity: which regions of a poster raise one genre's probability.

The canvas is cut into a ``rows`` x ``cols`` grid; for each cell a copy of the canvas has a
window two cells wide, centred on that cell, filled with the poster's mean colour. All copies
run through the bundle's own graph (as one batched job); a cell's value is the genre's
probability on the whole poster minus that on the copy: positive where the region raises the
genre, negative where it lowers it. ``overlay`` paints the grid over the canvas as a PNG.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

RAISES = np.array([214, 39, 40], np.float32)  # red: hiding the region lowers the genre
LOWERS = np.array([31, 119, 180], np.float32)  # blue: hiding it raises the genre
MAX_ALPHA = 0.75


def occluded(canvas: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``rows * cols`` copies of an (H, W, 3) uint8 canvas, copy ``r * cols + c`` with the
    window around cell (r, c) filled with the mean colour."""
    h, w = canvas.shape[:2]
    ys = np.linspace(0, h, rows + 1).round().astype(int)
    xs = np.linspace(0, w, cols + 1).round().astype(int)
    fill = canvas.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    copies = np.repeat(canvas[None], rows * cols, axis=0)
    for r in range(rows):
        half_h = (ys[r + 1] - ys[r]) // 2
        y0, y1 = max(0, ys[r] - half_h), min(h, ys[r + 1] + half_h)
        for c in range(cols):
            half_w = (xs[c + 1] - xs[c]) // 2
            copies[r * cols + c, y0:y1, max(0, xs[c] - half_w):min(w, xs[c + 1] + half_w)] = fill
    return copies


def sensitivity(whole: float, occluded_probs: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """The (rows, cols) grid: the genre's probability on the whole poster minus per copy."""
    return (whole - np.asarray(occluded_probs, np.float64)).reshape(rows, cols)


def overlay(canvas: np.ndarray, grid: np.ndarray) -> bytes:
    """PNG of the canvas, mostly greyed, with the grid painted on: red where the region
    raises the genre, blue where it lowers it, opacity by the value's size relative to the
    largest."""
    h, w = canvas.shape[:2]
    scale = float(np.abs(grid).max())
    heat = np.zeros((h, w), np.float32)
    if scale > 0:
        small = Image.fromarray((grid / scale).astype(np.float32), mode="F")
        heat = np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), np.float32)
    alpha = (np.abs(heat) * MAX_ALPHA)[..., None]
    colour = np.where(heat[..., None] >= 0, RAISES, LOWERS)
    pixels = canvas.astype(np.float32)
    grey = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    base = 0.3 * pixels + 0.7 * grey[..., None]  # mostly grey, so the colours stand out
    out = base * (1 - alpha) + colour * alpha
    buf = io.BytesIO()
    Image.fromarray(out.round().astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()

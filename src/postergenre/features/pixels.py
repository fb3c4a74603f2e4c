"""Poster pixels for models trained end to end, computed once per image content and cached.

A poster becomes its canvas (``canvas``, the same decode as at predict time) and, if the
model wants another size, is resized with the very bilinear resize the exported graph runs
(``resize_like_graph``), then rounded to uint8. Rows are stored under producer
``pixels-<h>x<w>``, so epochs, folds and tuning trials read arrays instead of decoding again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import ArrayStore, default_cache_dir
from .canvas import CANVAS_HW, CANVAS_REVISION
from .producer import Producer, load_poster, produce_files

PathLike = str | os.PathLike
PIXELS_REVISION = 1  # bump when the stored pixels change for the same inputs


def resize_like_graph(pixels: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """(N, 3, H, W) float pixels to ``hw``: bilinear, half-pixel centres, no antialiasing.

    This is the resize inside every exported graph, so cached pixels match predict time.
    """
    if tuple(pixels.shape[-2:]) == tuple(hw):
        return pixels
    return F.interpolate(pixels, size=tuple(hw), mode="bilinear", align_corners=False)


def to_size(canvases: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Canvases (N, *CANVAS_HW, 3) uint8 -> (N, *hw, 3) uint8 through ``resize_like_graph``."""
    if tuple(hw) == CANVAS_HW:
        return canvases
    x = torch.from_numpy(np.ascontiguousarray(canvases.transpose(0, 3, 1, 2))).float()
    y = resize_like_graph(x, hw).round().clamp(0, 255).to(torch.uint8)
    return y.permute(0, 2, 3, 1).contiguous().numpy()


def pixel_store(hw: tuple[int, int], cache_dir: PathLike | None = None) -> ArrayStore:
    """The cache of (h, w, 3) uint8 pixels at size ``hw``, keyed by image content hash."""
    h, w = hw
    return ArrayStore(
        cache_dir or default_cache_dir(),
        producer=f"pixels-{h}x{w}",
        version=f"{PIXELS_REVISION}-canvas{CANVAS_HW[0]}x{CANVAS_HW[1]}r{CANVAS_REVISION}",
    )


def pixel_producer(hw: tuple[int, int], cache_dir: PathLike | None = None,
                   workers: int = 2) -> Producer:
    """Poster file -> canvas -> uint8 pixels at ``hw``."""
    hw = (int(hw[0]), int(hw[1]))
    return Producer(
        store=pixel_store(hw, cache_dir),
        load=load_poster,
        transform=lambda canvases: to_size(np.stack(canvases), hw),
        label=f"pixels {hw[0]}x{hw[1]}",
        row_shape=(*hw, 3),
        dtype="uint8",
        batch_size=16,
        workers=workers,
        flush_rows=1024,
    )


def load_pixels(
    paths: Sequence[PathLike],
    hashes: Sequence[str | None] | None = None,
    hw: tuple[int, int] = CANVAS_HW,
    cache_dir: PathLike | None = None,
    progress: bool = True,
    workers: int = 2,
) -> tuple[np.ndarray, dict[PathLike, str]]:
    """Pixels (n_ok, h, w, 3) uint8 of the posters at ``paths`` and the unusable files, with
    the same contract as ``embeddings.embed``."""
    return produce_files(pixel_producer(hw, cache_dir, workers), paths, hashes, progress)

"""Shared fixtures: small synthetic poster datasets built in a temp folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import postergenre.features.specs  # noqa: F401 - registers the inputs' dataset columns

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def save_image(path: Path, color=(200, 30, 30), size=(40, 60), mode="RGB", fmt=None, seed=0):
    """Write a small noisy image of one dominant colour."""
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(color)[None, None, :] + rng.normal(0, 12, (size[1], size[0], 3)), 0, 255)
    im = Image.fromarray(arr.astype(np.uint8), "RGB")
    if mode != "RGB":
        im = im.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, format=fmt)
    return path


@pytest.fixture
def shared_posters() -> Path:
    path = SHARED_DATA / "movie-posters"
    if not path.is_dir():
        pytest.skip("../shared/data/movie-posters not available")
    return path

"""Record fields a model can take, and how each becomes its graph input.

A record is one movie as a user gives it: ``{"poster": ..., "title": ..., ...}``. Each field
has a type, and the type says how a value becomes one row of the bundle graph's input of
that name: the poster (``image``: a path, bytes, a PIL image or a uint8 array) becomes the
canvas, fed as float32 NCHW in [0, 255]; a title (``text``) becomes MiniLM token ids (0 =
padding); a plot (``terms``) its hashed term ids (module ``terms``); a year (``number``) a
float. ``prepare`` gives ``None`` for a value that is absent (empty text, an absurd year):
such a row is all zeros and ``present`` says so inside the graph. A field may be
``derive``d from the rest of a record where it is not given: the poster's printed text
(``ocr``) is read from the poster. Adding an input means adding a field here and a source in
``sources``.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..data.images import ImageError, to_rgb
from . import terms
from .canvas import CANVAS_HW, CANVAS_REVISION, canvas, decode_canvas, load_canvas, to_batch
from .onnx_export import canvas_example
from .text import clean, example_ids, token_ids
from .year import FIRST, LAST, parse_year


@dataclass(frozen=True)
class Field:
    """One record field: its type, how a value becomes a row, how rows become a batch."""

    name: str
    type: str
    prepare: Callable[[Any], np.ndarray]  # raises ``ImageError``/``ValueError`` on bad values
    batch: Callable[[list[np.ndarray]], np.ndarray]
    example: Callable[[int], torch.Tensor]  # a random graph input of n rows (export checks)
    absent: Callable[[], np.ndarray]  # the row of a record without this field
    present: Callable[[torch.Tensor], torch.Tensor]  # graph input -> (N,) 1.0 where present
    preprocessing: dict = field(default_factory=dict)  # what the bundle records about it
    axes: dict[int, str] = field(default_factory=dict)  # graph input axes of any length
    derive: Callable[[dict], Any] | None = None  # record without this field -> its value


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


def text_ids(max_tokens: int) -> Callable[[Any], np.ndarray | None]:
    def prepare(value: Any) -> np.ndarray | None:
        text = clean(value)
        return token_ids([text], max_tokens)[0] if text else None

    return prepare


def year_value(value: Any) -> np.ndarray | None:
    year, why = parse_year(value)
    if why:
        warnings.warn(why, stacklevel=2)
    return np.array([year], np.float32) if year else None


def plot_terms(value: Any) -> np.ndarray | None:
    text = clean(value)
    return terms.term_ids(text) if text else None


def poster_text(record: dict) -> str | None:
    """The text printed on the record's poster (OCR of its canvas), if it has a poster."""
    from .ocr import ocr_text

    poster = record.get("poster")
    return None if poster is None else ocr_text(poster_canvas(poster))


def _text(name: str, max_tokens: int) -> Field:
    return Field(name=name, type="text", prepare=text_ids(max_tokens), batch=np.stack,
                 example=lambda n: example_ids(n, max_tokens),
                 absent=lambda: np.zeros(max_tokens, np.int64),
                 present=lambda ids: (ids[:, 0] != 0).float(), axes={1: f"{name}_tokens"},
                 preprocessing={"encoder": "all-MiniLM-L6-v2", "max_tokens": max_tokens,
                                "text": "NFC, whitespace collapsed, truncated", "pad_id": 0})


POSTER = Field(
    name="poster",
    type="image",
    prepare=poster_canvas,
    batch=to_batch,
    example=canvas_example,
    absent=lambda: np.zeros((*CANVAS_HW, 3), np.uint8),
    present=lambda pixels: torch.ones(pixels.shape[0]),
    preprocessing={
        "canvas_hw": list(CANVAS_HW),
        "canvas_revision": CANVAS_REVISION,
        "canvas": "decode to RGB (alpha on white), stretch to canvas, bilinear",
        "layout": "float32 NCHW in [0, 255]",
    },
)

TITLE = _text("title", 32)
PLOT = Field(name="plot", type="terms", prepare=plot_terms, batch=terms.pad_ids,
             example=terms.example_ids, absent=lambda: np.zeros(1, np.int64),
             present=lambda ids: (ids[:, 0] != 0).float(), axes={1: "plot_terms"},
             preprocessing={**terms.PREPROCESSING, "text": "NFC, whitespace collapsed",
                            "pad_id": 0})
OCR = replace(_text("ocr", 64), derive=poster_text, preprocessing={
    **_text("ocr", 64).preprocessing,
    "derived": "when not given: rapidocr on the poster's canvas (features.ocr), lines joined"})
YEAR = Field(name="year", type="number", prepare=year_value, batch=np.stack,
             example=lambda n: torch.linspace(0, 2020, n)[:, None],
             absent=lambda: np.zeros(1, np.float32),
             present=lambda years: (years[:, 0] > 0).float(),
             preprocessing={"range": [FIRST, LAST], "missing": 0})

FIELDS: dict[str, Field] = {f.name: f for f in (POSTER, TITLE, PLOT, YEAR, OCR)}

__all__ = ["FIELDS", "POSTER", "Field", "ImageError", "poster_canvas"]

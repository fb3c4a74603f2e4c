"""Uploaded images and form fields -> the records a bundle reads, refused with a named reason.

An upload is read up to its size limit, its format sniffed from its first bytes (the name and
content type are not trusted), decoded within the pixel limit, and put in a record with the
other fields sent; the record then takes the library's one path (``bundle.records``). An
image field only ever receives uploaded bytes, so no request can name a file on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import UploadFile
from PIL import Image

from ..bundle.records import Prepared, RecordError, prepare
from ..data.images import ImageError, decode
from ..features.canvas import DECODE_AT_LEAST
from ..features.specs import FIELDS
from .limits import MB, ApiError, Limits, sniff

FORMATS = "JPEG, PNG, WebP, GIF, BMP or TIFF"


@dataclass
class Poster:
    """One uploaded poster, ready for the graph."""

    file: str
    prepared: Prepared


def file_name(upload: UploadFile, i: int) -> str:
    name = (upload.filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:200] or f"file {i + 1}"


async def read(upload: UploadFile, name: str, limits: Limits) -> bytes:
    data = await upload.read(limits.max_file_bytes + 1)
    if len(data) > limits.max_file_bytes:
        raise ApiError(413, f"file over the {limits.max_file_bytes / MB:.3g} MB limit", file=name)
    return data


def image(name: str, data: bytes, limits: Limits) -> Image.Image:
    """The decoded upload: 415 if it is no image format we take, 422 if it does not decode
    (truncated, corrupt, over the pixel limit)."""
    if not data:
        raise ApiError(422, "empty file (0 bytes)", file=name)
    if sniff(data) is None:
        raise ApiError(415, f"not an image ({FORMATS} expected)", file=name)
    try:
        return decode(data, limits.max_pixels, DECODE_AT_LEAST)
    except ImageError as e:
        raise ApiError(422, f"unusable image: {e}", file=name) from None


def poster(name: str, data: bytes, fields: dict[str, Any], inputs: list[dict],
           limits: Limits) -> Poster:
    """Decode one upload and prepare every declared input of its record (``fields``: the
    text fields sent, None where absent); an optional input that is absent or empty gets
    its field's absent row and is not counted as used."""
    record = {"poster": image(name, data, limits),
              **{k: v for k, v in fields.items() if v is not None}}
    try:
        return Poster(name, prepare(record, inputs))
    except RecordError as e:
        raise ApiError(422, str(e), file=name, field=e.field) from None


def canvas(name: str, data: bytes, limits: Limits) -> np.ndarray:
    """The poster canvas of one upload (for the comparable-films index)."""
    row = FIELDS["poster"].prepare(image(name, data, limits))
    if row is None:  # ``prepare`` gives None only for an absent value
        raise ApiError(422, "no poster in the upload", file=name)
    return row

"""Uploaded images and form fields -> the records a bundle reads, refused with a named reason.

An upload is read up to its size limit, its format sniffed from its first bytes (the name and
content type are not trusted), decoded within the pixel limit, and put in a record with the
text fields; each input the bundle declares is then prepared by its field (``FIELDS``). An
image field only ever receives uploaded bytes, so no request can name a file on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import UploadFile
from PIL import Image

from ..data.images import ImageError, decode
from ..features.canvas import DECODE_AT_LEAST
from ..features.specs import FIELDS
from .limits import MB, ApiError, Limits, sniff

FORMATS = "JPEG, PNG, WebP, GIF, BMP or TIFF"


@dataclass
class Poster:
    """One uploaded poster, ready for the graph."""

    file: str
    rows: dict[str, np.ndarray]  # one prepared row per input the bundle declares
    used: list[str]  # record fields the model reads that were given
    ignored: list[str]  # fields given that the model does not take


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
    rows, used = {}, []
    for spec in inputs:
        field = spec["name"]
        value = record.get(field)
        try:
            if value is None and FIELDS[field].derive is not None:
                value = FIELDS[field].derive(record)
            row = None if value is None else FIELDS[field].prepare(value)
        except (ImageError, ValueError) as e:
            raise ApiError(422, f"{field}: {e}", file=name, field=field) from None
        if row is None and spec["required"]:
            raise ApiError(422, f"this model needs {field!r}", file=name, field=field)
        rows[field] = FIELDS[field].absent() if row is None else row
        used += [field] if row is not None else []
    declared = {spec["name"] for spec in inputs}
    return Poster(name, rows, used, [f for f in record if f not in declared])


def canvas(name: str, data: bytes, limits: Limits) -> np.ndarray:
    """The poster canvas of one upload (for the comparable-films index)."""
    return FIELDS["poster"].prepare(image(name, data, limits))

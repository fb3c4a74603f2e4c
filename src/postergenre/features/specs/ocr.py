"""The text printed on the poster: read by OCR from the poster where a record does not give
it, and embedded by MiniLM (``ocr:minilm``).

In training, each poster content is read once (in worker processes) into the cache; at
predict time the bundle reads it from the record's poster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..ocr import ocr_text, ocr_version, poster_texts
from .base import PathLike
from .minilm import MiniLMText, text_field
from .poster import poster_canvas

MAX_TOKENS = 64


def poster_text(record: dict) -> str | None:
    """The text printed on the record's poster (OCR of its canvas), if it has a poster."""
    poster = record.get("poster")
    return None if poster is None else ocr_text(poster_canvas(poster))


OCR = text_field("ocr", MAX_TOKENS, (), "The text printed on the poster (read from it when "
                 "not given).", derive=poster_text,
                 derived="when not given: rapidocr on the poster's canvas (features.ocr), "
                         "lines joined")


@dataclass(frozen=True)
class PosterText(MiniLMText):
    """MiniLM of the poster's printed text, read by OCR once per poster content."""

    def texts(self, rows: pd.DataFrame, cache_dir: PathLike, progress: bool) -> list[str]:
        texts, _ = poster_texts(list(rows["path"]), list(rows["sha256"]), cache_dir,
                                progress=progress)  # an unreadable poster: the poster's say
        return texts

    def describe(self, fitted: Any) -> dict:
        return {**super().describe(fitted), "ocr": ocr_version()}


def minilm() -> PosterText:
    return PosterText(OCR, MAX_TOKENS)

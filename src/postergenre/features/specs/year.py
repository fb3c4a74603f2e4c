"""The release year: an optional number, read as a smooth encoding (``year:encoding``).

A year outside the range ``features.year`` takes, or not a number, is missing, with a note.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..producer import Engine
from ..year import DIM, FIRST, LAST, YearEncoding, encode, parse_year
from .base import Field, InputSpec, Made, PathLike, column


def year_value(value: Any) -> np.ndarray | None:
    year, why = parse_year(value)
    if why:
        warnings.warn(why, stacklevel=2)
    return np.array([year], np.float32) if year else None


YEAR = Field(name="year", type="number", prepare=year_value, batch=np.stack,
             example=lambda n: torch.linspace(0, 2020, n)[:, None],
             absent=lambda: np.zeros(1, np.float32),
             present=lambda years: (years[:, 0] > 0).float(),
             columns=("year", "release_year", "startyear"), help="The release year.",
             preprocessing={"range": [FIRST, LAST], "missing": 0})


@dataclass(frozen=True)
class YearInput(InputSpec):
    """The year's smooth encoding; absurd years are missing, with a reason."""

    name = "year:encoding"
    field = YEAR

    def make(self, fitted: Any, rows: pd.DataFrame, cache_dir: PathLike, progress: bool = True,
             engine: Engine | None = None) -> Made:
        parsed = [parse_year(v) for v in column(rows, "year")]
        years = np.array([y for y, _ in parsed], np.float32)
        why = {str(i): w for i, (_, w) in zip(rows["id"], parsed, strict=True) if w}
        return encode(years), years > 0, why

    def graph_module(self, fitted: Any) -> nn.Module:
        return YearEncoding()

    def describe(self, fitted: Any) -> dict:
        return {"encoding": "decade bumps 1910-2030 (width 8) + linear", "dim": DIM}


def encoding() -> YearInput:
    return YearInput()

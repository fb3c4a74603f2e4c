"""What an input is: a record field, and the model inputs made from it.

A ``Field`` is one value of a record as a user gives it (``poster``, ``title``, ...): its
type, the dataset columns it is read from, whether a model can do without it, how a raw
value becomes one row of the bundle graph's input of that name (``prepare``; ``None`` for an
absent value) and how rows become a batch.

An ``InputSpec`` is one named model input made from a field, e.g.
``poster:efficientnet_lite0@int8``. It is immutable; ``fit`` learns what it needs from the
training rows (an int8 calibration, the plot's ridge; nothing for most) and returns an
immutable fitted object, from which ``make`` builds the rows for a table of movies (through
the cache), ``graph_module`` the torch module that does the same inside the bundle graph, and
``describe`` what the bundle records about it. ``make``, ``producer`` and ``fit`` read, where
they need them, the columns ``path``, ``sha256``, the field's own column, and for training
rows ``train``, ``part`` and ``genres``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..producer import Engine, Producer, produce_files

PathLike = str | os.PathLike
# (rows, presence mask, {file or id: why it is missing})
Made = tuple[np.ndarray, np.ndarray, dict[str, str]]


@dataclass(frozen=True)
class Field:
    """One record field: its type, where a dataset keeps it, how a value becomes a row."""

    name: str
    type: str  # "image" | "text" | "number" | "terms"
    prepare: Callable[[Any], np.ndarray | None]  # raises ImageError/ValueError on bad values
    batch: Callable[[list[np.ndarray]], np.ndarray]
    example: Callable[[int], torch.Tensor]  # a random graph input of n rows (export checks)
    absent: Callable[[], np.ndarray]  # the row of a record without this field
    present: Callable[[torch.Tensor], torch.Tensor]  # graph input -> (N,) 1.0 where present
    columns: tuple[str, ...] = ()  # dataset column names it is recognised by (lower case)
    required: bool = False  # a record without it cannot be scored
    help: str = ""  # what a user gives (command-line and form help)
    preprocessing: dict = field(default_factory=dict)  # what the bundle records about it
    axes: dict[int, str] = field(default_factory=dict)  # graph input axes of any length
    derive: Callable[[dict], Any] | None = None  # a record without this field -> its value


@dataclass(frozen=True)
class Unfitted:
    """The fitted state of an input that learns nothing from training rows."""


NOTHING = Unfitted()


class InputSpec:
    """One named model input made from ``field``; subclasses are frozen dataclasses."""

    name: str
    field: Field

    @property
    def required(self) -> bool:
        return self.field.required

    def fit(self, rows: pd.DataFrame, cache_dir: PathLike) -> Any:
        """What this input learns from ``rows`` (their ``train`` rows); immutable."""
        return NOTHING

    def producer(self, fitted: Any, cache_dir: PathLike) -> Producer | None:
        """The per-poster cached producer, for inputs made from poster files."""
        return None

    def make(self, fitted: Any, rows: pd.DataFrame, cache_dir: PathLike, progress: bool = True,
             engine: Engine | None = None) -> Made:
        """Rows of this input for ``rows`` (from the cache where it has them)."""
        producer = self.producer(fitted, cache_dir)
        if producer is None:
            raise NotImplementedError(f"{self.name}: no make")
        paths = list(rows["path"])
        got, failed = produce_files(producer, paths, list(rows["sha256"]), progress, engine)
        return spread(got, [p not in failed for p in paths],
                      {str(p): w for p, w in failed.items()})

    def graph_module(self, fitted: Any) -> nn.Module:
        """The field's graph input -> this input, inside the bundle graph."""
        raise NotImplementedError

    def graph_file(self, fitted: Any) -> Path | None:
        """A ready ONNX graph used instead of ``graph_module`` (an int8 backbone)."""
        return None

    def describe(self, fitted: Any) -> dict:
        """What the bundle records about this input's preprocessing."""
        return {}


def spread(got: np.ndarray | None, present: list[bool], failed: dict[str, str],
           shape: tuple[int, ...] = (), dtype: Any = np.float32) -> Made:
    """Rows for every movie: ``got`` where present, zeros elsewhere."""
    mask = np.array(present, bool)
    full = np.zeros((len(mask), *(got.shape[1:] if got is not None else shape)),
                    got.dtype if got is not None else dtype)
    if got is not None and len(got):
        full[mask] = got
    return full, mask, failed


def column(rows: pd.DataFrame, name: str) -> list:
    """The values of field ``name`` for every row (None where the table has no such column)."""
    return list(rows[name]) if name in rows else [None] * len(rows)

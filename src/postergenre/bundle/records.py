"""Records -> the bundle graph's inputs -> ranked answers: the one prediction path.

A record is one movie as a user gives it: ``{"poster": ..., "title": ..., ...}``. ``prepare``
turns it into one row per input the bundle declares, each made by its registered field
(``features.specs``); ``feeds`` stacks prepared rows into the graph's batch; ``ranked``
orders one answer's genres. ``predict`` (files, tables, Ray) and the web app both go
through these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data.images import ImageError
from ..features.specs import FIELDS


class RecordError(ValueError):
    """A record that cannot be used; ``field`` names the value at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Prepared:
    """One record, ready for the graph."""

    rows: dict[str, np.ndarray]  # one row per declared input
    used: list[str]  # the declared fields the record gave (or that were derived)
    ignored: list[str] = field(default_factory=list)  # fields given that the model does not take


def prepare(record: dict[str, Any], inputs: list[dict]) -> Prepared:
    """One row per declared input (``inputs``: the bundle's declarations). An optional field
    that is missing or empty gets its absent row and is not counted as used; a bad value or a
    missing required one raises ``RecordError``."""
    rows, used = {}, []
    for spec in inputs:
        name, value = spec["name"], record.get(spec["name"])
        field_ = FIELDS[name]
        try:
            if value is None and field_.derive is not None:
                value = field_.derive(record)
            row = None if value is None else field_.prepare(value)
        except (ImageError, ValueError, OSError) as e:
            raise RecordError(name, f"{name}: {e}" if name != "poster" else str(e)) from None
        if row is None and spec["required"]:
            raise RecordError(name, f"no {name} given")
        rows[name] = field_.absent() if row is None else row
        if row is not None:
            used.append(name)
    declared = {spec["name"] for spec in inputs}
    ignored = [k for k, v in record.items() if k not in declared and v is not None]
    return Prepared(rows, used, ignored)


def feeds(rows: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The graph's inputs for prepared rows (``Prepared.rows``), one batch."""
    return {name: FIELDS[name].batch([r[name] for r in rows]) for name in rows[0]}


def ranked(genres: list[str], p: np.ndarray, decided: np.ndarray) -> list[tuple[str, float,
                                                                                 bool]]:
    """``(genre, probability, decided)`` for every genre, most probable first."""
    return [(genres[j], float(p[j]), bool(decided[j])) for j in np.argsort(-p, kind="stable")]

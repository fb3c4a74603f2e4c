"""A run folder's ``history.json``: the per-epoch records of its models, typed.

``train`` writes it through ``History.to_json``; ``report`` and ``compare`` read it through
``read_history``, which validates the whole document (``training.typed_json``): a list where
an object belongs, or a string where a number belongs, is a ``UserError`` naming the file
and the key (``runs/x/history.json: folds must be a list, not an object``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .typed_json import Typed

HISTORY_FILE = "history.json"


@dataclass(frozen=True)
class History(Typed):
    """One record per epoch (``epoch``, losses, validation scores; null for a value that was
    not a number) of every CV fold model and of the final model."""

    folds: list[list[dict[str, float | None]]]
    final: list[dict[str, float | None]]

    @classmethod
    def of(cls, folds: list[list[dict]], final: list[dict]) -> History:
        """The histories the models kept, a NaN loss or score written as null."""
        def clean(epochs: list[dict]) -> list[dict]:
            return [{k: v if v is None or math.isfinite(v) else None for k, v in e.items()}
                    for e in epochs]

        return cls.from_json({"folds": [clean(f) for f in folds], "final": clean(final)})


def read_history(run: Path) -> History:
    """The run folder's ``history.json``, validated."""
    return History.read(run / HISTORY_FILE)

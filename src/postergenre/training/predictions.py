"""A run folder's ``predictions_test.csv``: the test movies' probabilities and decisions.

One row per test movie: ``id``, ``true`` and ``predicted`` (genre names joined by ``|``) and
one column of unrounded probabilities per genre of the run. ``read_predictions`` checks the
file against the run's record (``metrics.json``) before anything is computed from it: one
row per test movie (``data.n_test``), each id once, only the run's genres, probabilities
from 0 to 1 that give the recorded test macro mAP and decisions that give its micro-F1. A
file that fails is a ``UserError`` naming it, so that no interval or curve is drawn from
other data than the figures it stands beside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from ..evaluation.metrics import LABELS, compute_metrics
from .record import RunRecord

PREDICTIONS_FILE = "predictions_test.csv"
AGREED = ("macro_map", "micro_f1")  # the test figures the file must reproduce
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Predictions:
    ids: list[str]
    y: np.ndarray  # (n, G) 0/1 true genres
    prob: np.ndarray  # (n, G) probabilities
    pred: np.ndarray  # (n, G) bool decisions

    def to_csv(self, genres: list[str]) -> str:
        def names(rows: np.ndarray) -> list[str]:
            return ["|".join(g for g, t in zip(genres, row, strict=True) if t) for row in rows]

        table = pd.DataFrame({"id": self.ids, "true": names(self.y),
                              "predicted": names(self.pred)})
        table = pd.concat([table, pd.DataFrame(self.prob, columns=genres)], axis=1)
        return table.to_csv(index=False)


def read_predictions(run: Path, record: RunRecord) -> Predictions:
    """The run folder's test predictions, checked against its record (``UserError`` naming
    the file and what disagrees)."""
    path = run / PREDICTIONS_FILE
    genres = list(record.data.genres)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: unreadable ({e})") from None
    missing = [c for c in ("id", "true", "predicted", *genres) if c not in table.columns]
    if missing:
        raise UserError(f"{path}: no column {missing[0]!r} (it holds id, true, predicted and "
                        "one column per genre of the run)")
    if table.empty:
        raise UserError(f"{path}: holds no test predictions")
    ids = table["id"]
    twice = ids[ids.duplicated()]
    if (ids == "").any() or len(twice):
        what = "an empty id" if (ids == "").any() else f"id {twice.iloc[0]!r} more than once"
        raise UserError(f"{path}: holds {what}; each test movie has one row")
    if len(table) != record.data.n_test:
        raise UserError(f"{path}: {len(table)} rows, but metrics.json counts "
                        f"{record.data.n_test} test movies (data.n_test)")
    prob = table[genres].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    bad = ~((prob >= 0) & (prob <= 1))  # NaN fails both
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise UserError(f"{path}: id {ids.iloc[i]!r}: the {genres[j]} probability is "
                        f"{table[genres[j]].iloc[i]!r}, not a number from 0 to 1")
    got = Predictions(ids.tolist(), _multi_hot(path, table, "true", genres), prob,
                          _multi_hot(path, table, "predicted", genres).astype(bool))
    scores = compute_metrics(got.y, got.prob, got.pred, genres)
    for key in AGREED:
        want, mine = getattr(record.test, key), scores[key]
        if (want is None) != (mine is None) or (
                want is not None and abs(want - mine) > TOLERANCE):
            raise UserError(f"{path}: gives test {LABELS[key]} {_shown(mine)}, but metrics.json "
                            f"states {_shown(want)} (test.{key}); they are not of one run")
    return got


def _shown(value: float | None) -> str:
    return "none" if value is None else f"{value:.4f}"


def _multi_hot(path: Path, table: pd.DataFrame, column: str, genres: list[str]) -> np.ndarray:
    """A ``true`` or ``predicted`` column as 0/1 rows; a genre the run does not predict is a
    ``UserError`` naming the file."""
    index = {g: j for j, g in enumerate(genres)}
    out = np.zeros((len(table), len(genres)), dtype=np.int8)
    for i, cell in enumerate(table[column]):
        for g in filter(None, cell.split("|")):
            if g not in index:
                raise UserError(f"{path}: id {table['id'].iloc[i]!r}: {column} names {g!r}, "
                                "not a genre of the run (data.genres)")
            out[i, index[g]] = 1
    return out

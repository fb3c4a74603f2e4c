"""Per-genre decision thresholds, chosen on validation predictions only.

``fit_thresholds`` picks, for each genre, the cut-off that maximises that genre's F1 on the
data it is given (``precision_recall_curve`` enumerates every cut-off). Three guards keep
the choice from being an artefact of a small validation set:

* a genre with fewer than ``min_positives`` validation positives gets ``fallback``
  (default 0.5) instead of a cut-off fitted to a handful of posters;
* the threshold is put half-way between the F1-optimal score and the next lower score seen,
  not on the optimal score itself, so a poster scored just below an observed positive is
  not flipped (the validation decisions, and so the validation F1, are unchanged);
* it is clipped to ``[min_threshold, max_threshold]``, so a threshold of 0 ("every poster
  has this genre") or 1 ("never") cannot come out.

Ties in F1 go to the highest threshold (the fewest predicted labels). Note that "predict
this genre for every poster" *is* F1-optimal for a frequent genre the model cannot separate
(F1 = 2p/(1+p) for prevalence p): that is the metric's answer, not a bug.

``apply_thresholds(..., at_least_one=True)`` gives a poster with no genre above its
threshold the genre whose score clears its threshold by the largest ratio ``p / t``. F1-optimal
thresholds are low, so few posters come out empty, and giving them one genre changed the
F1 scores little, never for the worse (a simulation on the shared label matrix, in
docs/measurements.md). It is on by default in the fitted decision rule (``DecisionRule``,
``fit_decision``), and so in every trained model; ``apply_thresholds`` alone leaves it off.
``p / t`` rather than ``p`` ranks the fallback because it also makes sense for uncalibrated
(e.g. ``pos_weight``-trained) scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.metrics import f1_score, precision_recall_curve

Strategy = Literal["f1", "fixed"]


def fit_thresholds(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    strategy: Strategy = "f1",
    *,
    min_positives: int = 5,
    min_threshold: float = 0.01,
    max_threshold: float = 0.99,
    fallback: float = 0.5,
) -> np.ndarray:
    """One threshold per genre, shape (G,), float64, fitted on ``(y_true, y_prob)`` only.

    ``strategy="f1"``: per-genre F1-optimal cut-off with the guards described in the module
    docstring; ``strategy="fixed"``: ``fallback`` for every genre.
    """
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob, dtype=float)
    if y_true.ndim != 2 or y_true.shape != y_prob.shape:
        raise ValueError(f"y_true {y_true.shape} and y_prob {y_prob.shape} must be the same (n, G)")
    if not 0.0 <= min_threshold <= fallback <= max_threshold <= 1.0:
        raise ValueError("need 0 <= min_threshold <= fallback <= max_threshold <= 1")
    if strategy not in ("f1", "fixed"):
        raise ValueError(f"unknown threshold strategy {strategy!r} (use 'f1' or 'fixed')")

    n_genres = y_true.shape[1]
    thresholds = np.full(n_genres, float(fallback))
    if strategy == "fixed":
        return thresholds
    for g in range(n_genres):
        if y_true[:, g].sum() < min_positives:
            continue
        thresholds[g] = _best_f1_threshold(y_true[:, g], y_prob[:, g])
    return np.clip(thresholds, min_threshold, max_threshold)


def apply_thresholds(
    y_prob: np.ndarray,
    thresholds: np.ndarray | Sequence[float],
    *,
    at_least_one: bool = False,
    max_genres: int | None = None,
) -> np.ndarray:
    """Decisions ``y_prob >= thresholds`` as a bool (n, G) array.

    ``max_genres``: a genre is decided only if it is over its threshold *and* among the
    poster's ``max_genres`` most probable genres (a stricter rule than keeping the K most
    probable of those over threshold, which measured better on the shared posters' CV folds:
    docs/measurements.md). ``at_least_one=True``: a row with no genre left gets its genre
    with the largest ``y_prob / threshold``.
    """
    y_prob = np.asarray(y_prob, dtype=float)
    thresholds = np.asarray(thresholds, dtype=float)
    if y_prob.ndim != 2 or thresholds.shape != (y_prob.shape[1],):
        raise ValueError(
            f"y_prob {y_prob.shape} needs one threshold per column, got {thresholds.shape}"
        )
    y_pred = y_prob >= thresholds
    if max_genres is not None and max_genres < y_prob.shape[1] and y_pred.size:
        top = np.argsort(-y_prob, axis=1, kind="stable")[:, :max_genres]
        keep = np.zeros_like(y_pred)
        np.put_along_axis(keep, top, True, axis=1)
        y_pred &= keep
    if at_least_one and y_pred.size:
        empty = ~y_pred.any(axis=1)
        ratio = y_prob[empty] / np.maximum(thresholds, 1e-12)
        y_pred[np.flatnonzero(empty), ratio.argmax(axis=1)] = True
    return y_pred


@dataclass
class DecisionRule:
    """How probabilities become a genre set: per-genre thresholds, a cap, a floor of one."""

    thresholds: np.ndarray
    max_genres: int | None = None
    at_least_one: bool = True

    def apply(self, y_prob: np.ndarray) -> np.ndarray:
        return apply_thresholds(y_prob, self.thresholds, at_least_one=self.at_least_one,
                                max_genres=self.max_genres)

    def to_json(self) -> dict:
        return {"type": RULE_TYPE, "thresholds": [float(t) for t in self.thresholds],
                "max_genres": self.max_genres, "at_least_one": self.at_least_one}

    @classmethod
    def from_json(cls, d: object, n_genres: int) -> DecisionRule:
        """The rule ``to_json`` wrote, for ``n_genres`` genres; ``ValueError`` naming the
        first bad field (a NaN or out-of-range threshold, a cap below one, ...)."""
        if not isinstance(d, dict) or d.get("type") != RULE_TYPE:
            raise ValueError(f"decision must be an object with type {RULE_TYPE!r}")
        t = d.get("thresholds")
        if (not isinstance(t, list) or len(t) != n_genres
                or not all(isinstance(v, float) for v in t)):
            raise ValueError(f"decision.thresholds must be {n_genres} numbers, one per genre")
        thresholds = np.asarray(t, dtype=np.float64)
        if not np.all((thresholds >= 1e-6) & (thresholds <= 1 - 1e-6)):  # NaN fails too
            raise ValueError("decision.thresholds must lie in [1e-6, 1 - 1e-6]")
        k = d.get("max_genres")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ValueError("decision.max_genres must be null or a positive integer")
        if not isinstance(d.get("at_least_one"), bool):
            raise ValueError("decision.at_least_one must be true or false")
        return cls(thresholds, k, d["at_least_one"])


RULE_TYPE = "per-genre-thresholds+cap"


MAX_GENRES_CHOICES = (1, 2, 3, 4, 5, 6, None)


def fit_decision(y_true: np.ndarray, y_prob: np.ndarray, *, at_least_one: bool = True,
                 max_genres_choices: Sequence[int | None] = MAX_GENRES_CHOICES) -> DecisionRule:
    """Per-genre F1 thresholds, then the cap on genres per poster that maximises the mean of
    macro-F1 and micro-F1 on the same (validation) data.

    Per-genre F1 thresholds alone predict ~4 genres per poster where posters have ~2, which
    costs micro-F1; the cap trades a little macro-F1 for a lot of micro-F1.
    """
    thresholds = fit_thresholds(y_true, y_prob)
    best, best_score = None, -1.0
    for k in max_genres_choices:
        pred = apply_thresholds(y_prob, thresholds, at_least_one=at_least_one, max_genres=k)
        macro = f1_score(y_true, pred, average="macro", zero_division=0)
        micro = f1_score(y_true, pred, average="micro", zero_division=0)
        if (macro + micro) / 2 > best_score + 1e-9:
            best, best_score = k, (macro + micro) / 2
    return DecisionRule(thresholds, best, at_least_one)


def thresholds_to_dict(thresholds: np.ndarray, genres: Sequence[str]) -> dict[str, float]:
    """``{genre: threshold}`` with plain floats, ready for JSON."""
    if len(thresholds) != len(genres):
        raise ValueError(f"{len(thresholds)} thresholds for {len(genres)} genres")
    return {g: float(t) for g, t in zip(genres, thresholds, strict=True)}


def _best_f1_threshold(y: np.ndarray, score: np.ndarray) -> float:
    precision, recall, cutoffs = precision_recall_curve(y, score)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)[-1]  # ties: highest threshold
    chosen = cutoffs[best]
    below = score[score < chosen]
    return float((chosen + below.max()) / 2) if below.size else float(chosen)

"""Per-genre decision thresholds, chosen on validation predictions only.

``fit_thresholds`` picks, for each genre, the cut-off that maximises that genre's F1 on the
data it is given (every cut-off between two distinct scores is tried), optionally among the
posters a cap leaves the genre eligible on. Three guards keep the choice from being an
artefact of a small validation set:

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
from sklearn.metrics import f1_score

Strategy = Literal["f1", "fixed"]


def fit_thresholds(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    strategy: Strategy = "f1",
    *,
    eligible: np.ndarray | None = None,
    min_positives: int = 5,
    min_threshold: float = 0.01,
    max_threshold: float = 0.99,
    fallback: float = 0.5,
) -> np.ndarray:
    """One threshold per genre, shape (G,), float64, fitted on ``(y_true, y_prob)`` only.

    ``strategy="f1"``: per-genre F1-optimal cut-off with the guards described in the module
    docstring; ``strategy="fixed"``: ``fallback`` for every genre. ``eligible``: a bool (n, G)
    mask of the (poster, genre) pairs a later rule may decide (a cap keeps only each poster's
    top genres); the cut-off is then F1-optimal among those, the others counting as missed.
    """
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob, dtype=float)
    if y_true.ndim != 2 or y_true.shape != y_prob.shape:
        raise ValueError(f"y_true {y_true.shape} and y_prob {y_prob.shape} must be the same (n, G)")
    if eligible is not None and np.shape(eligible) != y_prob.shape:
        raise ValueError(f"eligible {np.shape(eligible)} must be shaped as y_prob {y_prob.shape}")
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
        rows = slice(None) if eligible is None else np.asarray(eligible[:, g], bool)
        thresholds[g] = _best_f1_threshold(y_true[rows, g], y_prob[rows, g],
                                           int(y_true[:, g].sum()))
    return np.clip(thresholds, min_threshold, max_threshold)


def top_genres(y_prob: np.ndarray, max_genres: int | None) -> np.ndarray:
    """A bool mask of each row's ``max_genres`` most probable genres (all if ``None``)."""
    if max_genres is None or max_genres >= y_prob.shape[1] or not y_prob.size:
        return np.ones(y_prob.shape, bool)
    top = np.argsort(-y_prob, axis=1, kind="stable")[:, :max_genres]
    keep = np.zeros(y_prob.shape, bool)
    np.put_along_axis(keep, top, True, axis=1)
    return keep


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
    y_pred = (y_prob >= thresholds) & top_genres(y_prob, max_genres)
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
    """For each cap on genres per poster, per-genre thresholds F1-optimal under that cap
    (among the posters whose top genres include the genre); then the cap that maximises the
    mean of macro-F1 and micro-F1 on the same (validation) data.

    Per-genre F1 thresholds alone predict ~4 genres per poster where posters have ~2, which
    costs micro-F1; the cap trades a little macro-F1 for a lot of micro-F1. Fitting the
    thresholds under the cap, not before it, measured better cross-fitted on the shared
    posters' out-of-fold predictions (docs/measurements.md).
    """
    best, best_score = None, -1.0
    for k in max_genres_choices:
        thresholds = fit_thresholds(y_true, y_prob, eligible=top_genres(y_prob, k))
        rule = DecisionRule(thresholds, k, at_least_one)
        pred = rule.apply(y_prob)
        macro = f1_score(y_true, pred, average="macro", zero_division=0)
        micro = f1_score(y_true, pred, average="micro", zero_division=0)
        if (macro + micro) / 2 > best_score + 1e-9:
            best, best_score = rule, (macro + micro) / 2
    if best is None:
        raise ValueError("fit_decision needs at least one cap to try")
    return best


def thresholds_to_dict(thresholds: np.ndarray, genres: Sequence[str]) -> dict[str, float]:
    """``{genre: threshold}`` with plain floats, ready for JSON."""
    if len(thresholds) != len(genres):
        raise ValueError(f"{len(thresholds)} thresholds for {len(genres)} genres")
    return {g: float(t) for g, t in zip(genres, thresholds, strict=True)}


def _best_f1_threshold(y: np.ndarray, score: np.ndarray, positives: int) -> float:
    """The F1-optimal cut-off over ``score`` (ties: the highest), half-way to the next lower
    score; ``positives`` counts those that cannot be decided too (missed, for recall)."""
    if not score.size:
        return 1.0  # no poster can be decided: never (clipped to max_threshold)
    order = np.argsort(-score, kind="stable")
    score, hits = score[order], np.cumsum(y[order])
    distinct = np.r_[score[1:] != score[:-1], True]  # cut only between different scores
    f1 = np.where(distinct, 2 * hits / (np.arange(1, score.size + 1) + positives), -1.0)
    cut = int(np.flatnonzero(f1 >= f1.max() - 1e-12)[0])  # ties: the fewest predicted
    return float((score[cut] + score[cut + 1]) / 2) if cut + 1 < score.size else float(score[cut])

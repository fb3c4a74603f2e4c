"""Multi-label metrics for one evaluation set, and their mean ± std across CV folds.

All the maths is scikit-learn's; this module decides *which* numbers we report and makes
them safe for rare genres: a genre with no positives (or no negatives) in ``y_true`` has no
average precision / ROC AUC, so those are ``None`` and the genre is named in
``ap_skipped_genres`` / ``roc_auc_skipped_genres`` instead of raising or warning.

Thresholded metrics use ``zero_division=0``: a genre that is never predicted has precision
0, a genre with no positives has recall 0, and a poster with no true and no predicted genre
has samples-F1 0. That is scikit-learn's convention, so ``macro_f1`` is exactly the mean of
``per_genre[g]["f1"]`` over all genres.

Every number in the returned dict is a plain ``float``/``int`` (or ``None``), so the dict
can go straight to ``json.dumps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    hamming_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from .calibration import brier, ece


class Headline(NamedTuple):
    key: str  # a key of compute_metrics()
    label: str
    higher_is_better: bool


# The headline metrics, in the order every table, leaderboard and bundle shows them.
HEADLINE: tuple[Headline, ...] = (
    Headline("macro_map", "macro mAP", True),
    Headline("micro_ap", "micro AP", True),
    Headline("macro_roc_auc", "macro ROC AUC", True),
    Headline("macro_f1", "macro-F1", True),
    Headline("micro_f1", "micro-F1", True),
    Headline("weighted_f1", "weighted-F1", True),
    Headline("samples_f1", "samples-F1", True),
    Headline("hamming_loss", "Hamming loss", False),
    Headline("subset_accuracy", "subset accuracy", True),
    Headline("label_cardinality_pred", "genres per poster (predicted)", True),
)
HEADLINE_KEYS = tuple(h.key for h in HEADLINE)
LABELS = {h.key: h.label for h in HEADLINE}
LOWER_IS_BETTER = frozenset(h.key for h in HEADLINE if not h.higher_is_better)

# Top-level keys of compute_metrics() that are scalars (summarised across folds).
SCALAR_KEYS = (
    "n_samples",
    "n_genres",
    "macro_map",
    "micro_ap",
    "macro_roc_auc",
    "micro_f1",
    "macro_f1",
    "weighted_f1",
    "samples_f1",
    "micro_precision",
    "macro_precision",
    "micro_recall",
    "macro_recall",
    "hamming_loss",
    "subset_accuracy",
    "ece",
    "brier",
    "label_cardinality_true",
    "label_cardinality_pred",
)


def compute_metrics(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    y_pred: np.ndarray,
    genres: Sequence[str],
) -> dict[str, Any]:
    """Score one evaluation set.

    ``y_true``: (n, G) 0/1 labels; ``y_prob``: (n, G) scores (probabilities or any monotone
    score); ``y_pred``: (n, G) decisions (bool or 0/1); ``genres``: the G column names.

    Returns a JSON-ready dict with the keys in ``SCALAR_KEYS``, ``ap_skipped_genres``,
    ``roc_auc_skipped_genres`` and ``per_genre`` = {genre: {support, prevalence, predicted,
    ap, roc_auc, f1, precision, recall}}. ``macro_map`` / ``macro_roc_auc`` average only the
    genres where the metric is defined; ``micro_ap`` is ``None`` if there is no positive at all.
    """
    y_true, y_prob, y_pred = _check_inputs(y_true, y_prob, y_pred, genres)
    n, n_genres = y_true.shape
    support = y_true.sum(axis=0)

    ap: list[float | None] = []
    auc: list[float | None] = []
    for g in range(n_genres):
        has_pos = support[g] > 0
        has_neg = support[g] < n
        ap.append(float(average_precision_score(y_true[:, g], y_prob[:, g])) if has_pos else None)
        auc.append(
            float(roc_auc_score(y_true[:, g], y_prob[:, g])) if has_pos and has_neg else None
        )

    f1 = f1_score(y_true, y_pred, average=None, zero_division=0)
    precision = precision_score(y_true, y_pred, average=None, zero_division=0)
    recall = recall_score(y_true, y_pred, average=None, zero_division=0)

    def avg(kind: str, fn) -> float:
        return float(fn(y_true, y_pred, average=kind, zero_division=0))

    return {
        "n_samples": int(n),
        "n_genres": int(n_genres),
        "macro_map": _mean_defined(ap),
        "micro_ap": (
            float(average_precision_score(y_true, y_prob, average="micro"))
            if support.sum() > 0
            else None
        ),
        "macro_roc_auc": _mean_defined(auc),
        "micro_f1": avg("micro", f1_score),
        "macro_f1": avg("macro", f1_score),
        "weighted_f1": avg("weighted", f1_score),
        "samples_f1": avg("samples", f1_score),
        "micro_precision": avg("micro", precision_score),
        "macro_precision": avg("macro", precision_score),
        "micro_recall": avg("micro", recall_score),
        "macro_recall": avg("macro", recall_score),
        "hamming_loss": float(hamming_loss(y_true, y_pred)),
        "subset_accuracy": float(accuracy_score(y_true, y_pred)),
        "ece": ece(y_true, y_prob),
        "brier": brier(y_true, y_prob),
        "label_cardinality_true": float(y_true.sum(axis=1).mean()),
        "label_cardinality_pred": float(y_pred.sum(axis=1).mean()),
        "ap_skipped_genres": [g for g, v in zip(genres, ap, strict=True) if v is None],
        "roc_auc_skipped_genres": [g for g, v in zip(genres, auc, strict=True) if v is None],
        "per_genre": {
            genre: {
                "support": int(support[g]),
                "prevalence": float(support[g] / n),
                "predicted": int(y_pred[:, g].sum()),
                "ap": ap[g],
                "roc_auc": auc[g],
                "f1": float(f1[g]),
                "precision": float(precision[g]),
                "recall": float(recall[g]),
            }
            for g, genre in enumerate(genres)
        },
    }


def summarise_folds(fold_metrics: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std of every scalar metric (and of per-genre AP) across CV folds.

    Returns ``{"n_folds": k, "metrics": {name: stats}, "per_genre_ap": {genre: stats}}``
    with ``stats = {"mean", "std", "n"}``: ``n`` counts the folds where the value was defined
    (not ``None``); ``std`` is the sample std (ddof=1), ``None`` when fewer than 2 folds
    define it; ``mean`` is ``None`` when no fold does.
    """
    if not fold_metrics:
        raise ValueError("summarise_folds needs at least one fold")
    names = [k for k in fold_metrics[0] if _is_scalar(fold_metrics[0][k])]
    genres: list[str] = []
    for m in fold_metrics:
        genres += [g for g in m.get("per_genre", {}) if g not in genres]
    return {
        "n_folds": len(fold_metrics),
        "metrics": {k: _stats([m.get(k) for m in fold_metrics]) for k in names},
        "per_genre_ap": {
            g: _stats([m.get("per_genre", {}).get(g, {}).get("ap") for m in fold_metrics])
            for g in genres
        },
    }


def _stats(values: list[Any]) -> dict[str, float | int | None]:
    defined = np.array([float(v) for v in values if v is not None], dtype=float)
    n = len(defined)
    return {
        "mean": float(defined.mean()) if n else None,
        "std": float(defined.std(ddof=1)) if n >= 2 else None,
        "n": n,
    }


def _is_scalar(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _mean_defined(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def _check_inputs(
    y_true: np.ndarray, y_prob: np.ndarray, y_pred: np.ndarray, genres: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob, dtype=float)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 2:
        raise ValueError(f"y_true must be (n, G), got shape {y_true.shape}")
    if y_prob.shape != y_true.shape or y_pred.shape != y_true.shape:
        raise ValueError(
            f"shapes differ: y_true {y_true.shape}, y_prob {y_prob.shape}, y_pred {y_pred.shape}"
        )
    if len(genres) != y_true.shape[1]:
        raise ValueError(f"{len(genres)} genre names for {y_true.shape[1]} label columns")
    if y_true.shape[0] == 0:
        raise ValueError("no samples to evaluate")
    if not np.isin(y_true, (0, 1)).all():
        raise ValueError("y_true must hold only 0/1")
    if not np.isin(y_pred, (0, 1)).all():
        raise ValueError("y_pred must hold only 0/1 or booleans")
    if not np.isfinite(y_prob).all():
        raise ValueError("y_prob has NaN or infinite values")
    return y_true.astype(np.int8), y_prob, y_pred.astype(bool)

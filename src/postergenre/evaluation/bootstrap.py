"""95% bootstrap confidence intervals of the test figures, resampling movies.

A resample draws the test movies with replacement; it is a vector of counts (how often each
movie was drawn), and every metric is computed with those counts as weights, for all
resamples at once. With all counts 1 the formulas give exactly ``compute_metrics``' numbers
(the tests check it), so an interval is about the very figure ``metrics.json`` reports.
Intervals are percentile intervals over the resamples where the metric is defined (a genre
drawn without positives has no AP in that resample).
"""

from __future__ import annotations

import numpy as np

from .calibration import BINS, brier, reliability
from .metrics import HEADLINE_KEYS

# every scalar a resample is scored on: the headline metrics, and precision and recall
METRIC_KEYS = (*HEADLINE_KEYS, "micro_precision", "macro_precision", "micro_recall",
               "macro_recall", "ece", "brier")
PER_GENRE_KEYS = ("ap", "roc_auc", "f1", "precision", "recall")
_CHUNK = 64  # resamples per micro-AP batch (bounds memory at (chunk, n * genres) floats)


def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) counts: how often each of ``n`` movies is drawn in each resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    counts = np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n)
    return counts.astype(np.float32)  # whole numbers: exact, and half the memory traffic


def weighted_metrics(y: np.ndarray, prob: np.ndarray, pred: np.ndarray,
                     w: np.ndarray) -> dict[str, np.ndarray]:
    """Headline metrics (B,) and per-genre metrics (B, G) for weights ``w`` (B, n).

    ``y`` (n, G) 0/1, ``prob`` (n, G), ``pred`` (n, G) bool. Undefined values are NaN.
    """
    y = np.asarray(y, dtype=float)
    pred = np.asarray(pred, dtype=float)
    prob = np.asarray(prob, dtype=float)
    n_genres = y.shape[1]
    total = w.sum(axis=1)
    support = w @ y
    tp, fp = w @ (y * pred), w @ ((1 - y) * pred)
    fn = support - tp
    out: dict[str, np.ndarray] = {
        "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, support),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }
    out["macro_f1"] = out["f1"].mean(axis=1)
    out["macro_precision"] = out["precision"].mean(axis=1)
    out["macro_recall"] = out["recall"].mean(axis=1)
    t, f, m = tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)
    out["micro_f1"] = _ratio(2 * t, 2 * t + f + m)
    out["micro_precision"] = _ratio(t, t + f)
    out["micro_recall"] = _ratio(t, t + m)
    out["weighted_f1"] = _ratio((out["f1"] * support).sum(axis=1), support.sum(axis=1))
    sizes = y.sum(axis=1) + pred.sum(axis=1)
    row_f1 = _ratio(2 * (y * pred).sum(axis=1), sizes)
    out["samples_f1"] = (w @ row_f1) / total
    out["hamming_loss"] = (w @ (y != pred).mean(axis=1)) / total
    out["subset_accuracy"] = (w @ (y == pred).all(axis=1)) / total
    out["label_cardinality_pred"] = (w @ pred.sum(axis=1)) / total
    out["brier"] = _weighted_brier(y, prob, w)
    out["ece"] = _weighted_ece(y, prob, w)
    ap = np.full(support.shape, np.nan)
    auc = np.full(support.shape, np.nan)
    for g in range(n_genres):
        ap[:, g], auc[:, g] = _ranking(y[:, g], prob[:, g], w)
    out["ap"], out["roc_auc"] = ap, auc
    out["macro_map"] = _nanmean(ap)
    out["macro_roc_auc"] = _nanmean(auc)
    movie = np.repeat(np.arange(len(y)), n_genres)  # the movie of each flattened entry
    out["micro_ap"] = np.concatenate([_ranking(y.ravel(), prob.ravel(), w[i:i + _CHUNK], movie)[0]
                                      for i in range(0, len(w), _CHUNK)])
    return out


def bootstrap_intervals(y: np.ndarray, prob: np.ndarray, pred: np.ndarray, genres: list[str],
                        n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """``{"n_boot", "seed", "level", "metrics": {key: [low, high]},
    "per_genre": {genre: {key: [low, high]}}}``; an interval is None where no resample
    defines the metric."""
    w = resample_counts(len(y), n_boot, seed)
    values = weighted_metrics(y, prob, pred, w)
    q = (100 * (1 - level) / 2, 100 * (1 + level) / 2)

    def interval(v: np.ndarray) -> list[float] | None:
        v = v[np.isfinite(v)]
        return [float(x) for x in np.percentile(v, q)] if v.size else None

    return {
        "n_boot": n_boot, "seed": seed, "level": level,
        "metrics": {k: interval(values[k]) for k in METRIC_KEYS},
        "per_genre": {g: {k: interval(values[k][:, j]) for k in PER_GENRE_KEYS}
                      for j, g in enumerate(genres)},
    }


def _ranking(y: np.ndarray, score: np.ndarray, w: np.ndarray,
             rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted average precision and ROC AUC of one score column, (B,) each (NaN where
    undefined). ``rows[i]`` is the column of ``w`` that weighs entry ``i`` (default ``i``).

    Entries with equal scores form one group, as in scikit-learn; only the groups holding a
    positive add to either sum: AP = sum of dTP * precision / P, ROC AUC = sum of
    dTP * (negatives below + half the tied ones) / (P * N).
    """
    order = np.argsort(-score, kind="stable")
    positive = y[order] > 0
    nan = np.full(len(w), np.nan)
    if not positive.any():
        return nan, nan
    cols = order if rows is None else rows[order]
    group_end = np.r_[np.flatnonzero(np.diff(score[order])), len(order) - 1]
    group = np.repeat(np.arange(len(group_end)), np.diff(group_end, prepend=-1))
    hit = np.unique(group[positive])  # the groups holding a positive
    seen = np.cumsum(w[:, cols], axis=1, dtype=np.float32)
    seen_prev = seen[:, group_end[np.maximum(hit - 1, 0)]].astype(float)  # before each group
    seen_prev[:, hit == 0] = 0
    tp = np.cumsum(w[:, cols[positive]], axis=1, dtype=np.float32)
    pos, neg = tp[:, -1].astype(float), (seen[:, -1] - tp[:, -1]).astype(float)
    tp = tp[:, np.cumsum(positive)[group_end[hit]] - 1].astype(float)
    seen = seen[:, group_end[hit]].astype(float)
    tp_prev = np.c_[np.zeros(len(w)), tp[:, :-1]]
    gained, fp = tp - tp_prev, seen - tp
    tied_neg = fp - (seen_prev - tp_prev)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = (gained * _ratio(tp, seen)).sum(axis=1) / pos
        auc = (gained * (neg[:, None] - fp + tied_neg / 2)).sum(axis=1) / (pos * neg)
    ap[pos == 0] = np.nan
    auc[(pos == 0) | (neg == 0)] = np.nan
    return ap, auc


def _weighted_ece(y: np.ndarray, prob: np.ndarray, w: np.ndarray, bins: int = BINS
                  ) -> np.ndarray:
    """``calibration.ece`` for each resample: per movie, its pairs' count, probability and
    truth summed per bin, then weighted by how often the movie was drawn."""
    which = np.minimum((prob * bins).astype(int), bins - 1)
    hot = np.eye(bins)[which]  # (n, G, bins)
    count, conf, seen = w @ hot.sum(1), w @ (hot * prob[..., None]).sum(1), \
        w @ (hot * y[..., None]).sum(1)
    gap = np.abs(conf - seen)  # = |mean prob - share true| * count, per bin
    return gap.sum(axis=1) / np.maximum(count.sum(axis=1), 1)


def _weighted_brier(y: np.ndarray, prob: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``calibration.brier`` for each resample."""
    return (w @ ((prob - y) ** 2).mean(axis=1)) / w.sum(axis=1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _nanmean(a: np.ndarray) -> np.ndarray:
    defined = np.isfinite(a)
    return np.where(defined.any(axis=1),
                    np.where(defined, a, 0).sum(axis=1) / np.maximum(defined.sum(axis=1), 1),
                    np.nan)


def calibration_shift(y: np.ndarray, raw: np.ndarray, calibrated: np.ndarray,
                      n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Reliability of the scores before and after calibration: ``{"before"|"after":
    {"count", "confidence", "observed", "ece", "brier", "ece_ci", "brier_ci"}}``, the bins
    as ``calibration.reliability`` makes them, the intervals over the same movie resamples."""
    y = np.asarray(y, dtype=float)
    w = resample_counts(len(y), n_boot, seed)
    q = (100 * (1 - level) / 2, 100 * (1 + level) / 2)
    out = {}
    for name, prob in (("before", raw), ("after", calibrated)):
        prob = np.asarray(prob, dtype=float)
        bins = reliability(y, prob)
        boot = {"ece": _weighted_ece(y, prob, w),
                "brier": _weighted_brier(y, prob, w)}
        out[name] = {"count": [int(c) for c in bins["count"]],
                     "confidence": [_finite(v) for v in bins["confidence"]],
                     "observed": [_finite(v) for v in bins["observed"]],
                     "ece": bins["ece"], "brier": brier(y, prob),
                     **{f"{k}_ci": [float(x) for x in np.percentile(v, q)]
                        for k, v in boot.items()}}
    return out


def _finite(v: float) -> float | None:
    """A bin's mean, or None for an empty bin."""
    return float(v) if np.isfinite(v) else None

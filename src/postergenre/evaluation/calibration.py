"""Calibration: a monotone map per genre from the model's score to a probability.

Fitted on out-of-fold predictions only. Three methods, measured by ``choose_method``: each
fitted on the other CV folds' predictions and scored on the held-out fold. Of the methods that
keep every genre's ranking (so its average precision), the lowest expected calibration error
wins; isotonic is measured and reported, with what its ties cost in macro AP:

    platt     p' = sigmoid(a * logit(p) + b), a > 0: keeps every genre's ranking
    beta      p' = sigmoid(a * ln p - b * ln(1 - p) + c), a, b >= 0: keeps the ranking
    isotonic  a non-decreasing step function; ties scores, which can cost average precision

``reliability`` gives the equal-width bins over all (movie, genre) pairs and their expected
calibration error (ECE), as the report shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("platt", "beta", "isotonic")
BINS = 10
EPS = 1e-6


def reliability(y: np.ndarray, prob: np.ndarray, bins: int = BINS) -> dict:
    """Equal-width bins over all (movie, genre) pairs: count, mean probability and observed
    frequency per bin, and the ECE (the count-weighted mean gap between the two)."""
    y, prob = np.asarray(y, float).ravel(), np.asarray(prob, float).ravel()
    which = np.minimum((prob * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, prob, bins) / count
        observed = np.bincount(which, y, bins) / count
    gap = np.nan_to_num(np.abs(confidence - observed))
    return {"count": count, "confidence": confidence, "observed": observed,
            "ece": float((gap * count).sum() / max(count.sum(), 1))}


def ece(y: np.ndarray, prob: np.ndarray) -> float:
    return reliability(y, prob)["ece"]


def brier(y: np.ndarray, prob: np.ndarray) -> float:
    """Mean squared error of the probabilities over all (movie, genre) pairs."""
    return float(np.mean((np.asarray(prob, float) - np.asarray(y, float)) ** 2))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def _features(method: str, p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), EPS, 1 - EPS)
    if method == "platt":
        return _logit(p)[:, None]
    return np.stack([np.log(p), -np.log1p(-p)], axis=1)


@dataclass(frozen=True)
class Calibration:
    """One monotone map per genre. ``params``: (G, 2) platt ``[a, b]`` or (G, 3) beta
    ``[a, b, c]``; isotonic: ``knots_x``/``knots_y``, one increasing list per genre."""

    method: str
    params: tuple[tuple[float, ...], ...] = ()
    knots_x: tuple[tuple[float, ...], ...] = ()
    knots_y: tuple[tuple[float, ...], ...] = ()

    def apply(self, prob: np.ndarray) -> np.ndarray:
        """(n, G) scores -> (n, G) calibrated probabilities, float32."""
        prob = np.asarray(prob, np.float64)
        out = np.empty_like(prob)
        for g in range(prob.shape[1]):
            p = prob[:, g]
            if self.method == "isotonic":
                out[:, g] = np.interp(p, self.knots_x[g], self.knots_y[g])
            else:
                w = np.asarray(self.params[g])
                z = _features(self.method, p) @ w[:-1] + w[-1]
                out[:, g] = 1 / (1 + np.exp(-z))
        return out.astype(np.float32)

    def to_json(self) -> dict:
        if self.method == "isotonic":
            return {"method": self.method, "x": [list(x) for x in self.knots_x],
                    "y": [list(y) for y in self.knots_y]}
        return {"method": self.method, "params": [list(p) for p in self.params]}

    @classmethod
    def from_json(cls, d: object, n_genres: int) -> Calibration:
        """The map ``to_json`` wrote; ``ValueError`` naming what is wrong."""
        if not isinstance(d, dict) or d.get("method") not in METHODS:
            raise ValueError(f"calibration.method must be one of {METHODS}")
        method = d["method"]
        if method == "isotonic":
            xs, ys = _rows(d.get("x"), n_genres, "x"), _rows(d.get("y"), n_genres, "y")
            for x, y in zip(xs, ys, strict=True):
                if len(x) != len(y) or len(x) < 2 or np.any(np.diff(x) < 0) or np.any(
                        np.diff(y) < 0) or min(y) < 0 or max(y) > 1:
                    raise ValueError("calibration knots must be non-decreasing, x and y of "
                                     "equal length, y in [0, 1]")
            return cls(method, knots_x=xs, knots_y=ys)
        params = _rows(d.get("params"), n_genres, "params")
        width = 2 if method == "platt" else 3
        if any(len(p) != width or min(p[:-1]) < 0 for p in params):
            raise ValueError(f"calibration.params must be {width} numbers per genre, slopes "
                             ">= 0")
        return cls(method, params=params)


def _rows(value: object, n: int, name: str) -> tuple[tuple[float, ...], ...]:
    if (not isinstance(value, list) or len(value) != n
            or not all(isinstance(r, list) and all(isinstance(v, int | float) for v in r)
                       for r in value)):
        raise ValueError(f"calibration.{name} must be {n} lists of numbers")
    rows = tuple(tuple(float(v) for v in r) for r in value)
    if not all(np.isfinite(r).all() for r in rows):
        raise ValueError(f"calibration.{name} must be finite")
    return rows


def fit_calibration(y: np.ndarray, prob: np.ndarray, method: str) -> Calibration:
    """Per-genre maps fitted on ``(y, prob)`` (out-of-fold predictions). A genre with no
    positive or no negative keeps its scores (identity)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, not {method!r}")
    params: list[tuple[float, ...]] = []
    xs: list[tuple[float, ...]] = []
    ys: list[tuple[float, ...]] = []
    for g in range(y.shape[1]):
        t, p = y[:, g].astype(int), prob[:, g].astype(np.float64)
        both = 0 < t.sum() < len(t)
        if method == "isotonic":
            if both:
                iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(p, t)
                xs.append(tuple(iso.X_thresholds_.tolist()))
                ys.append(tuple(iso.y_thresholds_.tolist()))
            else:
                xs.append((0.0, 1.0))
                ys.append((0.0, 1.0))
            continue
        identity = (1.0, 0.0) if method == "platt" else (1.0, 1.0, 0.0)
        if not both:
            params.append(identity)
            continue
        lr = LogisticRegression(C=1.0, max_iter=1000).fit(_features(method, p), t)
        w = (*lr.coef_[0].tolist(), float(lr.intercept_[0]))
        if min(w[:-1]) < 0:  # not monotone: Platt's map (a beta map with a = b), slope >= 0
            platt = LogisticRegression(C=1.0, max_iter=1000).fit(_features("platt", p), t)
            a, b = max(float(platt.coef_[0][0]), 0.0), float(platt.intercept_[0])
            w = (a, b) if method == "platt" else (a, a, b)
        params.append(tuple(float(v) for v in w))
    if method == "isotonic":
        return Calibration(method, knots_x=tuple(xs), knots_y=tuple(ys))
    return Calibration(method, params=tuple(params))


RANK_KEEPING = ("platt", "beta")


def choose_method(y: np.ndarray, prob: np.ndarray, folds: np.ndarray) -> tuple[str, dict]:
    """The rank-keeping method with the lowest cross-fitted ECE (fitted on the other folds'
    rows, scored on each fold's) and ``{method: {"ece", "brier", "macro_ap"}}`` for every
    method and for ``"none"`` (the scores as they are)."""
    table = {"none": _scores(y, prob)}
    for method in METHODS:
        out = np.empty_like(prob, dtype=np.float32)
        for f in np.unique(folds):
            held = folds == f
            out[held] = fit_calibration(y[~held], prob[~held], method).apply(prob[held])
        table[method] = _scores(y, out)
    best = min(RANK_KEEPING, key=lambda m: (round(table[m]["ece"], 4), table[m]["brier"]))
    return best, table


def _scores(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score

    out = {"ece": ece(y, prob), "brier": brier(y, prob)}
    cols = [g for g in range(y.shape[1]) if 0 < y[:, g].sum() < len(y)]
    if cols:
        out["macro_ap"] = float(np.mean([average_precision_score(y[:, g], prob[:, g])
                                         for g in cols]))
    return out

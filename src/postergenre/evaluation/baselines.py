"""Baselines that never look at a poster: the numbers a model has to beat.

Both are fitted on the *training* labels only and scored on the evaluation labels with
``compute_metrics``; both give every poster the training prevalence of each genre as its
probability, so their threshold-free metrics are those of "no information" (per-genre AP =
evaluation prevalence, ROC AUC = 0.5). They differ in the decision:

``prevalence``
    The model's own decision rule applied to no information: per-genre F1 thresholds
    (``fit_thresholds``) fitted on the training labels and constant scores. For a constant
    score the F1-optimal choice is "every poster" (F1 = 2p/(1+p) > 0), so every genre with
    at least ``min_positives`` training positives and prevalence >= ``min_threshold`` is
    predicted for everyone. This is the bar for *macro*-F1 (each genre's F1 is the best a
    constant can get) and is what our thresholded model degrades to when it learns nothing.
    (The other rule, "predict genres with prevalence >= 0.5", would hinge on whether Drama
    is at 49% or 51% of a split, and would just repeat half of ``best_constant``.)

``best_constant``
    One label set predicted for every poster, chosen to maximise micro-F1 on the training
    labels. For a constant set S, micro-F1 = 2·Σ_{g∈S} n_g / (|S|·n + L) (n posters, L
    labels), so for a given size the best set is the most frequent genres; trying every
    prefix of the genres sorted by count is therefore exact (and is what greedy forward
    selection finds). This is the bar for *micro*- and samples-F1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from .metrics import compute_metrics
from .thresholds import apply_thresholds, fit_thresholds


def evaluate_baselines(
    y_train: np.ndarray,
    y_eval: np.ndarray,
    genres: Sequence[str],
    **threshold_kwargs: Any,
) -> dict[str, dict[str, Any]]:
    """``{"prevalence": metrics, "best_constant": metrics}`` on ``y_eval``.

    ``threshold_kwargs`` go to ``fit_thresholds`` (use the model's own settings).
    """
    return {
        "prevalence": prevalence_baseline(y_train, y_eval, genres, **threshold_kwargs),
        "best_constant": best_constant_baseline(y_train, y_eval, genres),
    }


def prevalence_baseline(
    y_train: np.ndarray, y_eval: np.ndarray, genres: Sequence[str], **threshold_kwargs: Any
) -> dict[str, Any]:
    """Training prevalence as every poster's probability, decided by per-genre F1 thresholds
    fitted on the training labels."""
    y_train, y_eval = _check(y_train, y_eval, genres)
    prevalence = y_train.mean(axis=0)
    train_prob = np.broadcast_to(prevalence, y_train.shape)
    thresholds = fit_thresholds(y_train, train_prob, "f1", **threshold_kwargs)
    eval_prob = np.broadcast_to(prevalence, y_eval.shape)
    metrics = compute_metrics(y_eval, eval_prob, apply_thresholds(eval_prob, thresholds), genres)
    predicted = [g for g, p, t in zip(genres, prevalence, thresholds, strict=True) if p >= t]
    metrics["baseline"] = {
        "name": "prevalence",
        "rule": "p = training prevalence; per-genre F1 thresholds fitted on training labels",
        "label_set": predicted,
    }
    return metrics


def best_constant_baseline(
    y_train: np.ndarray, y_eval: np.ndarray, genres: Sequence[str]
) -> dict[str, Any]:
    """The training-micro-F1-best constant label set for every poster; p = prevalence."""
    y_train, y_eval = _check(y_train, y_eval, genres)
    chosen = best_constant_label_set(y_train)
    eval_prob = np.broadcast_to(y_train.mean(axis=0), y_eval.shape)
    eval_pred = np.broadcast_to(chosen, y_eval.shape)
    metrics = compute_metrics(y_eval, eval_prob, eval_pred, genres)
    metrics["baseline"] = {
        "name": "best_constant",
        "rule": "one label set for everyone, maximising micro-F1 on training labels",
        "label_set": [g for g, keep in zip(genres, chosen, strict=True) if keep],
    }
    return metrics


def best_constant_label_set(y_train: np.ndarray) -> np.ndarray:
    """Bool mask (G,) of the constant label set with the best micro-F1 on ``y_train``.

    Ties go to the smaller set; an empty set is returned only if there are no labels.
    """
    y_train = np.asarray(y_train)
    counts = y_train.sum(axis=0)
    order = np.argsort(-counts, kind="stable")  # most frequent first, ties by column
    best_mask, best_f1 = np.zeros(y_train.shape[1], dtype=bool), 0.0
    mask = np.zeros(y_train.shape[1], dtype=bool)
    for g in order:
        if counts[g] == 0:
            break
        mask[g] = True
        pred = np.broadcast_to(mask, y_train.shape)
        score = f1_score(y_train, pred, average="micro", zero_division=0)
        if score > best_f1:
            best_mask, best_f1 = mask.copy(), score
    return best_mask


def _check(
    y_train: np.ndarray, y_eval: np.ndarray, genres: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    y_train, y_eval = np.asarray(y_train), np.asarray(y_eval)
    if y_train.ndim != 2 or y_eval.ndim != 2 or y_train.shape[1] != y_eval.shape[1]:
        raise ValueError(f"y_train {y_train.shape} and y_eval {y_eval.shape}: need (n, G) both")
    if len(genres) != y_train.shape[1]:
        raise ValueError(f"{len(genres)} genre names for {y_train.shape[1]} label columns")
    if len(y_train) == 0:
        raise ValueError("no training labels to fit a baseline on")
    return y_train, y_eval

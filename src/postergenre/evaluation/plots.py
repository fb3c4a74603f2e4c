"""Evaluation figures as PNG files: per-genre AP vs the baseline, ROC / PR curves, genre counts.

Figures are built with matplotlib's object API on an Agg canvas (no ``pyplot``, no global
backend switch, safe in worker threads) and written atomically, so a half-written PNG is
never seen. Each function returns the path it wrote.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from ..atomic import write_with

MODEL_COLOUR = "#1f77b4"
BASELINE_COLOUR = "#bbbbbb"
_NCOLS = 6
_DPI = 110


def plot_ap_vs_baseline(
    metrics: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    baseline: Mapping[str, Any] | None = None,
    title: str = "Average precision per genre: model vs prevalence baseline",
) -> Path:
    """Horizontal bars of per-genre AP (from ``compute_metrics``) next to the baseline's AP.

    The baseline AP is ``baseline["per_genre"][g]["ap"]`` when a baseline's metrics are
    given, else the genre's prevalence in the evaluation set (the AP of any constant score).
    Genres are sorted by support (most frequent at the top) and annotated with it.
    """
    per_genre = metrics["per_genre"]
    genres = sorted(per_genre, key=lambda g: (-per_genre[g]["support"], g))
    model_ap = [_nan(per_genre[g]["ap"]) for g in genres]
    if baseline is not None:
        base_ap = [_nan(baseline["per_genre"].get(g, {}).get("ap")) for g in genres]
    else:
        base_ap = [
            per_genre[g]["prevalence"] if per_genre[g]["support"] else np.nan for g in genres
        ]

    fig = _figure(8.0, 1.0 + 0.32 * len(genres))
    ax = fig.add_subplot()
    y = np.arange(len(genres))
    ax.barh(y - 0.2, model_ap, height=0.4, color=MODEL_COLOUR, label="model")
    ax.barh(y + 0.2, base_ap, height=0.4, color=BASELINE_COLOUR, label="prevalence baseline")
    for yi, (g, m, b) in enumerate(zip(genres, model_ap, base_ap, strict=True)):
        right = np.nanmax([m, b, 0.0])
        ax.text(right + 0.01, yi, f"n={per_genre[g]['support']}", va="center", fontsize=8)
    ax.set_yticks(y, genres)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("average precision")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_roc_curves(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    genres: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str = "ROC curve per genre",
) -> Path:
    """Small multiples: one ROC panel per genre with its AUC and support, chance diagonal."""
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob, dtype=float)

    def draw(ax, y, p):
        if y.sum() == 0 or y.sum() == len(y):
            return "undefined:\nonly one class"
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot([0, 1], [0, 1], color=BASELINE_COLOUR, lw=1, ls="--")
        ax.plot(fpr, tpr, color=MODEL_COLOUR, lw=1.2)
        return f"AUC {auc(fpr, tpr):.3f}"

    return _small_multiples(y_true, y_prob, genres, path, draw, title, ("FPR", "TPR"), "bottom")


def plot_pr_curves(
    y_true: np.ndarray,
    y_prob: np.ndarray,
    genres: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str = "Precision-recall curve per genre (dashed: prevalence)",
) -> Path:
    """Small multiples: one PR panel per genre with its AP, support and prevalence line."""
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob, dtype=float)

    def draw(ax, y, p):
        if y.sum() == 0:
            return "undefined:\nno positives"
        precision, recall, _ = precision_recall_curve(y, p)
        ax.axhline(y.mean(), color=BASELINE_COLOUR, lw=1, ls="--")
        ax.plot(recall, precision, color=MODEL_COLOUR, lw=1.2, drawstyle="steps-post")
        return f"AP {average_precision_score(y, p):.3f}"

    return _small_multiples(
        y_true, y_prob, genres, path, draw, title, ("recall", "precision"), "top"
    )


def plot_genre_counts(
    counts: Mapping[str, int],
    path: str | os.PathLike,
    *,
    title: str = "Posters per genre",
) -> Path:
    """Horizontal bars of ``{genre: count}``, most frequent at the top, counts annotated."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    names = [k for k, _ in items]
    values = [int(v) for _, v in items]
    fig = _figure(7.0, 1.0 + 0.28 * max(len(items), 1))
    ax = fig.add_subplot()
    y = np.arange(len(items))
    ax.barh(y, values, color=MODEL_COLOUR)
    top = max(values, default=0) or 1
    for yi, v in enumerate(values):
        ax.text(v + 0.01 * top, yi, str(v), va="center", fontsize=8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.12)
    ax.set_xlabel("posters")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _small_multiples(y_true, y_prob, genres, path, draw, title, labels, note_at) -> Path:
    """One panel per genre (most frequent first); ``draw(ax, y, p)`` returns the panel note."""
    xlabel, ylabel = labels
    if y_true.shape != y_prob.shape or y_true.ndim != 2 or y_true.shape[1] != len(genres):
        raise ValueError(f"y_true {y_true.shape}, y_prob {y_prob.shape}, {len(genres)} genres")
    n_genres = len(genres)
    order = sorted(range(n_genres), key=lambda g: (-int(y_true[:, g].sum()), genres[g]))
    ncols = min(_NCOLS, max(n_genres, 1))
    nrows = max(math.ceil(n_genres / ncols), 1)
    fig = _figure(2.3 * ncols, 0.6 + 2.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        if i >= n_genres:
            ax.set_axis_off()
            continue
        g = order[i]
        note = draw(ax, y_true[:, g], y_prob[:, g])
        ax.set_title(f"{genres[g]} (n={int(y_true[:, g].sum())})", fontsize=9)
        y_note = 0.05 if note_at == "bottom" else 0.95
        ax.text(0.97, y_note, note, transform=ax.transAxes, ha="right", va=note_at, fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=7)
        if i % ncols == 0:
            ax.set_ylabel(ylabel, fontsize=8)
        if i >= n_genres - ncols:
            ax.set_xlabel(xlabel, fontsize=8)
            ax.tick_params(labelbottom=True)
    fig.suptitle(title)
    return _save(fig, path)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=_DPI))
    return path


def _nan(value: float | None) -> float:
    return np.nan if value is None else float(value)

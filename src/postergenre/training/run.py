"""The run folder: written whole or not at all, and read back only when complete.

A run is written into a staging folder beside ``out`` and renamed into place at the end,
with the ``COMPLETE`` marker written last; an interrupted run leaves no folder that looks
finished, and readers (``compare``, ``report``) check the marker. An earlier run at ``out``
is replaced only once the new one is complete.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import write_json, write_text
from ..errors import UserError
from ..evaluation import render_markdown
from .record import CONFIG_FILE, HISTORY_FILE, METRICS_FILE, History, RunRecord

COMPLETE = "COMPLETE"  # the marker file: written last, so a run folder without it is unfinished


def is_complete(run: Path) -> bool:
    return (run / COMPLETE).is_file()


def check_out(out: Path) -> None:
    """Refuse, before any work, an ``out`` that is a file or a folder that holds no run."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (
        is_complete(out) or (out / METRICS_FILE).exists()
    ):
        raise UserError(f"{out}: a non-empty folder that is not a run folder; refusing to "
                        "replace it (choose another --out)")


@contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A fresh staging folder beside ``out``; on success it replaces ``out`` (marker last)."""
    stage = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        yield stage
        write_text(stage / COMPLETE, "finished\n")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        stage.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_results(stage: Path, record: RunRecord, history: History, ids: list[str],
                  y: np.ndarray, probs: np.ndarray, pred: np.ndarray, genres: list[str]) -> None:
    """Everything a run folder holds besides the bundle: config, metrics (JSON and Markdown),
    per-epoch histories, the test predictions (unrounded) and plots."""
    from ..evaluation.plots import plot_ap_vs_baseline, plot_pr_curves, plot_roc_curves

    test = record.test.to_json()
    write_json(stage / CONFIG_FILE, record.config)
    write_json(stage / METRICS_FILE, record.to_json())
    write_json(stage / HISTORY_FILE, history.to_json())
    write_text(stage / "metrics.md", render_markdown(
        test, record.cv.summary.to_json(), {k: b.to_json() for k, b in record.baselines.items()},
        title=f"postergenre run {stage.name.split('.partial-')[0].lstrip('.')}"))

    def names(rows: np.ndarray) -> list[str]:
        return ["|".join(g for g, t in zip(genres, row, strict=True) if t) for row in rows]

    table = pd.DataFrame({"id": ids, "true": names(y), "predicted": names(pred)})
    table = pd.concat([table, pd.DataFrame(probs, columns=genres)], axis=1)
    write_text(stage / "predictions_test.csv", table.to_csv(index=False))
    plots = stage / "plots"
    plot_ap_vs_baseline(test, plots / "per_genre_ap.png")
    plot_roc_curves(y, probs, genres, plots / "roc_curves.png")
    plot_pr_curves(y, probs, genres, plots / "pr_curves.png")

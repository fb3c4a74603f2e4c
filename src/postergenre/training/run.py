"""The run folder: written whole or not at all, and read back only when complete.

A run is written into a staging folder beside ``out`` and renamed into place at the end,
with the ``COMPLETE`` marker written last; an interrupted run leaves no folder that looks
finished, and readers (``compare``, ``report``) check the marker. An earlier run at ``out``
is replaced only once the new one is complete.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..atomic import write_json, write_text
from ..errors import UserError
from ..evaluation import render_markdown
from .history import HISTORY_FILE, History
from .predictions import PREDICTIONS_FILE, Predictions
from .record import CONFIG_FILE, METRICS_FILE, RunRecord

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
    """A fresh staging folder beside ``out``; on success it replaces ``out`` (marker last).
    Staging folders of ``out`` left by a ``train`` whose process is gone are cleaned first."""
    clean_leftovers(out)
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


def clean_leftovers(out: Path) -> None:
    """Remove the staging folders of ``out`` (``.NAME.partial-PID``, a whole bundle each) that
    a killed ``train`` left, their process gone; a previous run it had set aside
    (``.NAME.old-PID``) goes back to ``out`` when ``out`` is missing, else is removed. A note
    on stderr names each."""
    for kind in ("partial", "old"):
        for folder in sorted(out.parent.glob(f".{glob.escape(out.name)}.{kind}-*")):
            pid = folder.name.rsplit("-", 1)[1]
            if not (pid.isdigit() and folder.is_dir() and _gone(int(pid))):
                continue
            if kind == "old" and not out.exists():
                folder.rename(out)
                print(f"note: {out}: restored from {folder.name}, set aside by a train that "
                      f"was killed (process {pid})", file=sys.stderr)
            else:
                shutil.rmtree(folder, ignore_errors=True)
                print(f"note: removed {folder}, left by a train that was killed (process "
                      f"{pid})", file=sys.stderr)


def _gone(pid: int) -> bool:
    """Whether no process ``pid`` runs on this machine (another user's counts as running)."""
    if pid <= 0 or pid == os.getpid():  # not a process id; this process's own folder
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


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

    write_text(stage / PREDICTIONS_FILE, Predictions(ids, y, probs, pred).to_csv(genres))
    plots = stage / "plots"
    plot_ap_vs_baseline(test, plots / "per_genre_ap.png")
    plot_roc_curves(y, probs, genres, plots / "roc_curves.png")
    plot_pr_curves(y, probs, genres, plots / "pr_curves.png")

"""``build_leaderboard``: the finished runs of a folder made on one split, as one HTML page.

The rows are ``compare``'s (same split, same genres; the others are listed with the reason);
each run's numbers come from its record (validated by ``compare``) and are tagged with its
folder and their path in its ``metrics.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..compare import Leaderboard, compare
from ..evaluation.metrics import LABELS
from . import html as H
from .figures import NEUTRAL, OTHER, figure, figure_uri

SHOWN = tuple((key, LABELS[key], with_cv) for key, with_cv in (
    ("macro_map", True), ("macro_roc_auc", False), ("macro_f1", True), ("micro_f1", False),
    ("samples_f1", False)))  # (key, label, with its CV column)


def build_leaderboard(folder: Path, out: Path | None = None) -> Path:
    """Write the leaderboard of the runs in ``folder`` to ``out`` (default
    FOLDER/leaderboard.html) and return its path."""
    out = out or folder / "leaderboard.html"
    H.check_out(out)
    board = compare([folder], measure=False)
    records = board.table.to_dict("records")
    derived = H.Numbers()
    header = ["run", "model", "settings", "train posters"]
    for _, label, with_cv in SHOWN:
        header += ([f"{label} CV"] if with_cv else []) + [f"{label} test"]
    rows = [_row(r, board, out, derived) for r in records]
    body = (H.img(figure_uri(_chart(records)), "leaderboard chart",
                  "Bars: test figures; dots and whiskers: CV mean ± std. Grey: baselines that "
                  "never look at a poster.")
            + H.table(header, rows, text=3))
    body += "".join(H.note(f"Not listed: {H.esc(run)}: {H.esc(why)}")
                    for run, why in board.refused.items())
    body += "".join(H.note(H.esc(n)) for n in board.notes)
    genres = f", {len(board.genres)} genres" if board.genres else ""
    n_runs = sum(1 for r in records if r["path"])
    subtitle = (f"{n_runs} run{'s' if n_runs != 1 else ''} and {len(records) - n_runs} "
                f"baselines · split {H.esc(board.split_fingerprint or '?')}{genres} · "
                "sorted by test macro mAP")
    page = H.page(f"postergenre leaderboard: {folder.resolve().name}", subtitle,
                  [("leaderboard", "Leaderboard", body)], {"derived": derived.derived})
    write_text(out, page)
    return out


def _row(r: dict, board: Leaderboard, out: Path, derived: H.Numbers) -> list[str]:
    """One table row; a run's numbers are tagged with their place in its metrics.json, a
    baseline's are tagged as derived (they come from the reference run's metrics)."""
    if r["path"]:
        record = board.records[r["path"]]
        nums = H.Numbers(record, r["path"])
        report = Path(r["path"]) / "report.html"
        name = H.esc(r["run"])
        if report.is_file():
            name = f'<a href="{H.esc(os.path.relpath(report, out.parent))}">{name}</a>'
        cells = [name, H.esc(r["model"]), H.esc(r["settings"]),
                 nums.metric("data", "n_train", spec="d")]
        for key, _, with_cv in SHOWN:
            stats = record.cv.summary.metrics.get(key)
            if with_cv:  # a record may lack a CV figure
                path = ("cv", "summary", "metrics", key)
                cv = "–" if stats is None else nums.metric(*path, "mean")
                if stats is not None and stats.std is not None:
                    cv += f" ± {nums.metric(*path, 'std')}"
                cells.append(f'<span class="num">{cv}</span>')
            cells.append(nums.metric("test", key))
        return cells
    cells = [H.esc(r["run"]), "baseline", H.esc(r["settings"]), "–"]
    for key, _, with_cv in SHOWN:
        cells += (["–"] if with_cv else []) + [derived.value(f"{r['run']}.{key}",
                                                             r[f"test_{key}"])]
    return cells


def _chart(records: list[dict]):
    fig = figure(11, 1.4 + 0.35 * len(records))
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(records))
    colours = [NEUTRAL if r["path"] else OTHER for r in records]
    for ax, (key, label, _) in zip(axes, (SHOWN[0], SHOWN[2]), strict=True):
        ax.barh(y, _column(records, f"test_{key}"), color=colours)
        ax.errorbar(_column(records, f"cv_{key}"), y,
                    xerr=np.nan_to_num(_column(records, f"cv_{key}_std")), fmt="o",
                    color="#e65100", ms=4, capsize=2, label="CV mean ± std")
        ax.set_xlabel(f"{label} (test)")
        ax.set_title(label)
        ax.set_xlim(0, 1)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, [str(r["run"]) for r in records])
    axes[0].invert_yaxis()
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Runs on one split: test figures and CV spread")
    return fig


def _column(records: list[dict], key: str) -> np.ndarray:
    """One column as floats, NaN where missing."""
    return np.array([np.nan if r.get(key) is None else r[key] for r in records], dtype=float)

"""The leaderboard table: one row per listed run and baseline (raw numbers), the runs left
out and why, and its text forms (the rows of a terminal table, markdown, CSV)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..evaluation.metrics import HEADLINE
from ..training.record import RunRecord

# (key, label, higher is better): the headline metrics, per-poster counts aside
METRICS = tuple(m for m in HEADLINE if m.key != "label_cardinality_pred")


@dataclass
class Leaderboard:
    table: pd.DataFrame  # one row per run or baseline, raw numbers
    split_fingerprint: str | None
    refused: dict[str, str] = field(default_factory=dict)  # run -> why it is not listed
    notes: list[str] = field(default_factory=list)
    genres: tuple[str, ...] | None = None  # the genres every listed run predicts (sorted)
    records: dict[str, RunRecord] = field(default_factory=dict)  # listed run's path -> record

    def to_csv(self) -> str:
        return self.table.to_csv(index=False)

    def display_rows(self) -> tuple[list[str], list[list[str]]]:
        """Header and formatted rows: metrics as 'CV mean ± std' and 'test' columns."""
        header = ["run", "model", "settings", "train posters", "genres", "device"]
        for _, label, _ in METRICS:
            header += [f"{label} CV", f"{label} test"]
        header += ["train time", "predict posters/s"]
        rows = []
        for r in self.table.to_dict("records"):
            row = [
                str(r["run"]),
                str(r["model"]),
                str(r["settings"]),
                _int(r.get("n_train")),
                _int(r.get("n_genres")),
                _text(r.get("device")),
            ]
            for key, _, _ in METRICS:
                row += [_pm(r.get(f"cv_{key}"), r.get(f"cv_{key}_std")), _num(r.get(f"test_{key}"))]
            row += [_secs(r.get("train_s")), _int(r.get("predict_per_s"))]
            rows.append(row)
        return header, rows

    def to_markdown(self) -> str:
        header, rows = self.display_rows()
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|",
        ]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        text = "\n".join(lines) + "\n"
        if self.split_fingerprint:
            same = f", predicting the same {len(self.genres)} genres" if self.genres else ""
            text = (
                f"All runs on split {self.split_fingerprint}{same}; sorted by test macro mAP.\n\n"
                + text
            )
        for run, why in self.refused.items():
            text += f"\nNot listed: {run}: {why}"
        for note in self.notes:
            text += f"\n{note}"
        return text + ("\n" if self.refused or self.notes else "")


def _text(v) -> str:
    return "–" if v is None or v != v else str(v)


def _num(v) -> str:
    return "–" if v is None or v != v else f"{float(v):.3f}"


def _pm(mean, std) -> str:
    if mean is None or mean != mean:
        return "–"
    return f"{mean:.3f}" if std is None or std != std else f"{mean:.3f} ± {std:.3f}"


def _int(v) -> str:
    return "–" if v is None or v != v else f"{float(v):,.0f}"


def _secs(v) -> str:
    if v is None or v != v:
        return "–"
    return f"{v:.0f} s" if v < 120 else f"{v / 60:.1f} min"

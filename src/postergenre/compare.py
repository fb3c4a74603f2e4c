"""``postergenre compare``: the leaderboard of runs made on one split.

Reads each run folder's ``metrics.json`` (and ``config.json``), refuses runs made on another
split (different split fingerprint: their test posters differ, so their numbers do not
compare), and lists model, settings, every headline metric as CV mean ± std and test, the
training time and the bundle's predict throughput (recorded in the run, or measured here
with bare onnxruntime on random canvases) next to the no-information baselines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import UserError
from .evaluation.report import HEADLINE

# (key, label, higher is better): the report's headline metrics, per-poster counts aside
METRICS = tuple(m for m in HEADLINE if m[0] != "label_cardinality_pred")


@dataclass
class Leaderboard:
    table: pd.DataFrame  # one row per run or baseline, raw numbers
    split_fingerprint: str | None
    refused: dict[str, str] = field(default_factory=dict)  # run -> why it is not listed
    notes: list[str] = field(default_factory=list)

    def to_csv(self) -> str:
        return self.table.to_csv(index=False)

    def display_rows(self) -> tuple[list[str], list[list[str]]]:
        """Header and formatted rows: metrics as 'CV mean ± std' and 'test' columns."""
        header = ["run", "model", "settings", "train posters", "device"]
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
            text = (
                f"All runs on split {self.split_fingerprint}; sorted by test macro mAP.\n\n" + text
            )
        for run, why in self.refused.items():
            text += f"\nNot listed: {run}: {why}"
        for note in self.notes:
            text += f"\n{note}"
        return text + ("\n" if self.refused or self.notes else "")


def find_runs(paths: list[Path]) -> list[Path]:
    """Run folders among ``paths``: a folder with metrics.json, or folders holding such."""
    runs: list[Path] = []
    for p in paths:
        if (p / "metrics.json").is_file():
            runs.append(p)
        elif p.is_dir():
            runs += sorted(q.parent for q in p.glob("*/metrics.json"))
        else:
            raise UserError(f"{p}: no such run folder")
    if not runs:
        raise UserError(f"no run folders (with metrics.json) in {', '.join(map(str, paths))}")
    return list(dict.fromkeys(runs))


def settings_of(model: str, config: dict) -> str:
    """A short description of what distinguishes a run of ``model``."""
    subset = config.get("train_subset")
    tail = f", subset {subset}" if subset else ""
    if model == "seed-cnn":
        c = config.get("seed_cnn", {})
        h, w = c.get("image_hw", ["?", "?"])
        return (
            f"{c.get('activation')}/{c.get('optimizer')} lr {c.get('lr'):g}, batch "
            f"{c.get('batch_size')}, <={c.get('max_epochs')} epochs, {h}x{w}, "
            f"{c.get('loss')}{tail}"
        )
    head = config.get("head", {})
    head_s = f"{head.get('kind')} {head.get('loss')}"
    if model == "finetune":
        c = config.get("finetune", {})
        blocks = "all" if c.get("train_blocks") == -1 else f"last {c.get('train_blocks')}"
        return (
            f"{c.get('backbone')} ({blocks} blocks, lr {c.get('lr'):g}, "
            f"<={c.get('max_epochs')} epochs{', aug' if c.get('augment') else ''}) + "
            f"{head_s}{tail}"
        )
    tta = " +flip" if config.get("tta") else ""
    return f"{'+'.join(config.get('backbones', []))}{tta} + {head_s}{tail}"


def read_run(run: Path) -> dict[str, Any]:
    try:
        m = json.loads((run / "metrics.json").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{run / 'metrics.json'}: unreadable ({e})") from None
    config = m.get("config") or {}
    if (run / "config.json").is_file():
        config = json.loads((run / "config.json").read_text())
    model = (m.get("model") or {}).get("name") or config.get("model", "head")
    cv = ((m.get("cv") or {}).get("summary") or {}).get("metrics", {})
    row: dict[str, Any] = {
        "run": run.name,
        "path": str(run),
        "model": model,
        "settings": settings_of(model, config),
        "n_train": (m.get("data") or {}).get("n_train"),
        "n_test": (m.get("data") or {}).get("n_test"),
        "cv_rounds": (m.get("cv") or {}).get("summary", {}).get("n_folds"),
        "device": (m.get("model") or {}).get("device", "cpu"),
        "split": (m.get("split") or {}).get("fingerprint"),
        "train_s": (m.get("timings") or {}).get("total_s"),
    }
    for key, _, _ in METRICS:
        stats = cv.get(key) or {}
        row[f"cv_{key}"], row[f"cv_{key}_std"] = stats.get("mean"), stats.get("std")
        row[f"test_{key}"] = (m.get("test") or {}).get(key)
    bench = m.get("benchmark") or {}
    if (run / "benchmark.json").is_file():
        bench = {**bench, **json.loads((run / "benchmark.json").read_text())}
    row["predict_per_s"] = bench.get("bare_posters_per_s") or bench.get("throughput")
    row["_baselines"] = m.get("baselines") or {}
    return row


def measure_throughput(
    run: Path, seconds: float = 2.0, batch_size: int = 32, threads: int | None = None
) -> float | None:
    """Bare onnxruntime posters/s of the run's bundle on random canvases."""
    from .features.runtime import throughput

    model = run / "model" / "model.onnx"
    if not model.is_file():
        return None
    return throughput(model, batch_size=batch_size, seconds=seconds, threads=threads)


def compare(
    paths: list[Path],
    split_fingerprint: str | None = None,
    measure: bool = True,
    seconds: float = 2.0,
    threads: int | None = None,
) -> Leaderboard:
    """The leaderboard of the runs under ``paths`` made on one split (the given fingerprint,
    else that of most runs)."""
    rows = [read_run(r) for r in find_runs(paths)]
    if split_fingerprint is None:
        counts = pd.Series([r["split"] for r in rows]).value_counts()
        split_fingerprint = str(counts.index[0]) if len(counts) else None
    refused = {
        r["path"]: f"made on split {r['split']}, not {split_fingerprint}"
        for r in rows
        if r["split"] != split_fingerprint
    }
    rows = [r for r in rows if r["split"] == split_fingerprint]
    if not rows:
        raise UserError(f"no run made on split {split_fingerprint}")
    notes = []
    n_test = {r["n_test"] for r in rows}
    if len(n_test) > 1:
        notes.append(f"Warning: runs scored different numbers of test posters {sorted(n_test)}.")
    measured = False
    for r in rows:
        if r["predict_per_s"] is None and measure:
            r["predict_per_s"] = measure_throughput(Path(r["path"]), seconds, threads=threads)
            measured = measured or r["predict_per_s"] is not None
    if measured:
        notes.append(
            "predict posters/s: bare onnxruntime on random canvases (batch 32), "
            "measured now on this machine; decoding not included."
        )
    # the baselines of the run trained on the most posters (the whole training part)
    ref = max(rows, key=lambda r: r["n_train"] or 0)
    baseline_rows = []
    for name, m in ref["_baselines"].items():
        b: dict[str, Any] = {
            "run": f"baseline: {name}",
            "path": "",
            "model": "baseline",
            "settings": (m.get("baseline") or {}).get("rule", ""),
            "n_train": ref["n_train"],
            "n_test": ref["n_test"],
            "device": None,
            "split": ref["split"],
            "train_s": None,
            "predict_per_s": None,
        }
        for key, _, _ in METRICS:
            b[f"cv_{key}"] = b[f"cv_{key}_std"] = None
            b[f"test_{key}"] = m.get(key)
        baseline_rows.append(b)
    table = pd.DataFrame(
        [{k: v for k, v in r.items() if k != "_baselines"} for r in rows + baseline_rows]
    )
    table = table.sort_values("test_macro_map", ascending=False, na_position="last")
    return Leaderboard(table.reset_index(drop=True), split_fingerprint, refused, notes)


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

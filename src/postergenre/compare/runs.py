"""Which run folders make the leaderboard: found, read through their records, refused with
the reason, measured, and set beside the no-information baselines (``compare``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UserError
from ..training.history import HISTORY_FILE, read_history
from ..training.predictions import PREDICTIONS_FILE, read_predictions
from ..training.record import METRICS_FILE, RunRecord, read_record
from ..training.run import COMPLETE, is_complete
from .table import METRICS, Leaderboard

MAX_MEASURE_S = 600.0  # a throughput measurement's longest allowed duration


def find_runs(paths: list[Path]) -> list[Path]:
    """Run folders among ``paths`` (a run folder, or a folder of them): a folder with
    ``metrics.json`` or the completion marker, finished or not."""
    runs: list[Path] = []
    for p in paths:
        if _is_run(p):
            runs.append(p)
        elif p.is_dir():
            runs += sorted(q for q in p.iterdir() if _is_run(q))
        else:
            raise UserError(f"{p}: no such run folder")
    if not runs:
        raise UserError(
            f"no run folders (with {METRICS_FILE} or {COMPLETE}) in {', '.join(map(str, paths))}"
        )
    return list(dict.fromkeys(runs))


def _is_run(p: Path) -> bool:
    return (p / METRICS_FILE).is_file() or is_complete(p)


def settings_of(record: RunRecord) -> str:
    """What distinguishes the run: the one-line description it recorded
    (``model.settings``), else (older runs) the model and its training subset, if any."""
    model = record.model
    if model.settings:
        return model.settings
    return f"{model.name}, train subset {model.train_subset}" if model.train_subset else model.name


def read_run(run: Path) -> dict[str, Any]:
    """A finished run's leaderboard row (raw numbers, its record under ``_record``);
    ``UserError`` naming the file and key when its record is unreadable or invalid, or when
    the history or test predictions it holds (as ``report`` reads them) are."""
    record = read_record(run)
    if (run / HISTORY_FILE).exists():
        read_history(run)
    if (run / PREDICTIONS_FILE).exists():
        read_predictions(run, record)
    cv = record.cv.summary.metrics
    row: dict[str, Any] = {
        "run": run.name,
        "path": str(run),
        "model": record.model.name,
        "settings": settings_of(record),
        "n_train": record.data.n_train,
        "n_test": record.data.n_test,
        "n_genres": len(record.data.genres),
        "cv_rounds": record.cv.summary.n_folds,
        "device": record.model.device,
        "split": record.split.fingerprint,
        "train_s": record.timings.get("total_s"),
        "predict_per_s": None,
    }
    for key, _, _ in METRICS:
        stats = cv.get(key)
        row[f"cv_{key}"] = None if stats is None else stats.mean
        row[f"cv_{key}_std"] = None if stats is None else stats.std
        row[f"test_{key}"] = getattr(record.test, key)
    row["_record"] = record
    row["_genres"] = tuple(sorted(record.data.genres))
    return row


def measure_throughput(
    run: Path, seconds: float = 2.0, batch_size: int = 32, threads: int | None = None
) -> float | None:
    """Bare onnxruntime posters/s of the run's bundle, fed random graph inputs for every
    input the bundle declares (a poster's canvas, a title's token ids, a year, ...); None
    without a bundle, ``UserError`` for a broken one."""
    from ..bundle import load_bundle
    from ..bundle.format import META_FILE
    from ..features.runtime import rate
    from ..features.specs import get_field

    if not (run / "model" / META_FILE).is_file():
        return None
    bundle = load_bundle(run / "model", threads)
    feeds = {i["name"]: get_field(i["name"]).example(batch_size).numpy() for i in bundle.inputs}
    return rate(lambda: bundle.run(feeds), batch_size, seconds)


def compare(
    paths: list[Path],
    split_fingerprint: str | None = None,
    measure: bool = True,
    seconds: float = 2.0,
    threads: int | None = None,
) -> Leaderboard:
    """The leaderboard of the finished runs under ``paths`` made on one split (the given
    fingerprint, else that of most runs) with one genre vocabulary (that of most runs)."""
    if not 0 < seconds <= MAX_MEASURE_S:
        raise UserError(f"seconds must be above 0 and at most {MAX_MEASURE_S:g}, not {seconds}")
    if threads is not None and threads < 1:
        raise UserError(f"threads must be at least 1, not {threads}")
    refused: dict[str, str] = {}
    rows = []
    for run in find_runs(paths):
        try:
            if not is_complete(run):
                raise UserError(f"unfinished (no {COMPLETE} marker)")
            rows.append(read_run(run))
        except UserError as e:  # the file and the key, named from the run folder
            refused[str(run)] = str(e).removeprefix(f"{run}/")
    if not rows:
        first, why = next(iter(refused.items()))
        raise UserError(
            f"no finished, readable run in {len(refused)} run folders ({first}: {why})")
    if split_fingerprint is None:
        split_fingerprint = _majority(r["split"] for r in rows if r["split"])
    rows = _keep(rows, refused, "split", split_fingerprint, _other_split)
    if not rows:
        raise UserError(f"no run made on split {split_fingerprint}")
    notes = []
    genres = _majority(r["_genres"] for r in rows)
    rows = _keep(rows, refused, "_genres", genres, _other_genres)
    n_test = {r["n_test"] for r in rows}
    if len(n_test) > 1:
        notes.append(f"Warning: runs scored different numbers of test posters {sorted(n_test)}.")
    measured = False
    for r in rows if measure else []:
        try:
            r["predict_per_s"] = measure_throughput(Path(r["path"]), seconds, threads=threads)
        except UserError as e:
            notes.append(f"predict posters/s of {r['path']}: not measured ({e})")
        measured = measured or r["predict_per_s"] is not None
    if measured:
        notes.append(
            "predict posters/s: bare onnxruntime on random inputs (batch 32), "
            "measured now on this machine; decoding not included."
        )
    table = pd.DataFrame(
        [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows + _baselines(rows)]
    )
    table = table.sort_values("test_macro_map", ascending=False, na_position="last")
    records = {r["path"]: r["_record"] for r in rows}
    return Leaderboard(table.reset_index(drop=True), split_fingerprint, refused, notes, genres,
                       records)


def _majority(values: Iterable[Hashable]):
    """The most common value (the first seen among equals); None when there is none."""
    counts = Counter(values).most_common(1)
    return counts[0][0] if counts else None


def _keep(rows: list[dict], refused: dict[str, str], key: str, value, why) -> list[dict]:
    """The rows whose ``key`` is ``value``; the others go to ``refused``, saying why."""
    refused.update({r["path"]: why(r, value) for r in rows if r[key] != value})
    return [r for r in rows if r[key] == value]


def _other_split(row: dict, split: str | None) -> str:
    return f"made on split {row['split']}, not {split}"


def _other_genres(row: dict, genres: tuple[str, ...]) -> str:
    mine = row["_genres"]
    missing, extra = set(genres) - set(mine), set(mine) - set(genres)
    diff = [f"without {_names(missing)}"] if missing else []
    diff += [f"with {_names(extra)}"] if extra else []
    return f"trained on {len(mine)} genres ({'; '.join(diff)}), the others on {len(genres)}"


def _names(genres: set[str], most: int = 5) -> str:
    names = sorted(genres)
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _baselines(rows: list[dict]) -> list[dict]:
    """The baselines of the run trained on the most posters (the whole training part)."""
    ref = max(rows, key=lambda r: r["n_train"] or 0)
    out = []
    for name, m in ref["_record"].baselines.items():
        b: dict[str, Any] = {
            "run": f"baseline: {name}",
            "path": "",
            "model": "baseline",
            "settings": m.baseline.rule,
            "n_train": ref["n_train"],
            "n_test": ref["n_test"],
            "n_genres": ref["n_genres"],
            "device": None,
            "split": ref["split"],
            "train_s": None,
            "predict_per_s": None,
        }
        for key, _, _ in METRICS:
            b[f"cv_{key}"] = b[f"cv_{key}_std"] = None
            b[f"test_{key}"] = getattr(m, key)
        out.append(b)
    return out

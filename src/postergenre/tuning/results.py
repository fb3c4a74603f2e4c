"""A study's results: ``trials.csv``/``.md``, ``study.json``, plots and ``best_config.json``."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..atomic import write_json, write_text
from ..models.space import SearchSpace
from ..progress import stderr
from .objective import configure
from .storage import hide_password

STATE_ORDER = ("COMPLETE", "PRUNED", "RUNNING", "WAITING", "FAIL")  # how the table sorts


@dataclass
class TuneResult:
    study_name: str
    storage: str  # password hidden
    out: Path
    counts: dict[str, int]  # trials by state: complete, pruned, fail, running, waiting
    best_value: float | None
    best_params: dict[str, Any]
    best_config: Path | None


def trials_table(study, metric: str) -> pd.DataFrame:
    """One row per trial: number, state, value, parameters, CV headline metrics, time."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name, f"cv_{metric}": t.value}
        row.update(t.params)
        for k, stats in (t.user_attrs.get("cv") or {}).items():
            if k != metric:
                row[f"cv_{k}"] = stats.get("mean")
            row[f"cv_{k}_std"] = stats.get("std")
        row["best_epochs"] = " ".join(map(str, t.user_attrs.get("best_epochs", [])))
        row["seconds"] = t.user_attrs.get("seconds")
        row["worker"] = t.user_attrs.get("worker")
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["_o"] = df["state"].map({s: i for i, s in enumerate(STATE_ORDER)})
    ascending = study.direction.name == "MINIMIZE"
    df = df.sort_values(["_o", f"cv_{metric}"], ascending=[True, ascending]).drop(columns="_o")
    return df.reset_index(drop=True)


def write_report(
    study, out: Path, base, space: SearchSpace, metric: str, storage: str
) -> TuneResult:
    """``trials.csv``, ``trials.md``, ``study.json``, ``best_config.json`` and plots."""
    from optuna.trial import TrialState

    table = trials_table(study, metric)
    write_text(out / "trials.csv", table.to_csv(index=False))
    counts = {
        s.lower(): len(study.get_trials(deepcopy=False, states=(TrialState[s],)))
        for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
    }
    best = study.best_trial if counts["complete"] else None
    best_config = None
    if best is not None:
        best_config = out / "best_config.json"
        write_json(best_config, configure(base, {**space.fixed, **best.params}).to_json())
    info = {
        "study": study.study_name,
        "storage": hide_password(storage),
        "model": base.model,
        "space": space.to_json(),
        "metric": metric,
        "direction": study.direction.name.lower(),
        "objective": f"mean {metric} over the CV rounds of the training part (test never read)",
        "base_config": base.to_json(),
        "split_fingerprint": study.user_attrs.get("split_fingerprint"),
        "counts": counts,
        "best": None
        if best is None
        else {
            "trial": best.number,
            "value": best.value,
            "params": best.params,
            "cv": best.user_attrs.get("cv"),
        },
    }
    write_json(out / "study.json", info)
    write_text(out / "trials.md", _markdown(table, info))
    if best is not None:
        _plots(study, out / "plots")
    return TuneResult(
        study.study_name,
        info["storage"],
        out,
        counts,
        None if best is None else best.value,
        {} if best is None else dict(best.params),
        best_config,
    )


def _markdown(table: pd.DataFrame, info: dict) -> str:
    lines = [
        f"# Tuning: {info['study']}",
        "",
        f"Model `{info['model']}`, space `{info['space']['name']}` "
        f"({info['space']['description']}); objective: {info['objective']}.",
        "",
        "Trials: " + ", ".join(f"{v} {k}" for k, v in info["counts"].items() if v) + ".",
        "",
    ]
    if info["best"]:
        lines += [
            f"Best: trial {info['best']['trial']}, {info['metric']} "
            f"{info['best']['value']:.4f}, `{json.dumps(info['best']['params'])}`. "
            "Train it: `postergenre train DATA --config best_config.json`.",
            "",
        ]
    if table.empty:
        return "\n".join(lines) + "\n"
    cols = [c for c in table.columns if not c.endswith("_std") and c != "worker"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in table[cols].iterrows():
        lines.append("| " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e-2 and v != 0 else f"{v:.4f}"
    return str(v)


def _plots(study, folder: Path) -> None:
    """Optimisation history, parameter importances and intermediate (per-round) values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    folder.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Callable[[Any], Any]] = {  # study -> axes
        "history.png": ovm.plot_optimization_history,
        "importances.png": ovm.plot_param_importances,
        "intermediate.png": ovm.plot_intermediate_values,
    }
    for name, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-API and legend chatter
            try:
                ax = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as e:
                stderr.print(f"plot {name} skipped: {e}", highlight=False)
                continue
        fig = ax.figure if hasattr(ax, "figure") else plt.gcf()
        fig.set_size_inches(8, 5)
        fig.tight_layout()
        tmp = folder / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=110)
        tmp.replace(folder / name)
        plt.close(fig)

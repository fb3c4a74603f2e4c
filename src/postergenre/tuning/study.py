"""``postergenre tune``: an Optuna study over one model's search space.

Objective: the model's k-fold CV on the *training part only* (macro mAP by default), exactly
the CV ``postergenre train`` runs. ``tune`` never sees the test part: it builds a dataset
and a split that hold only the training folds (``training_part``) before anything is read,
so no code path below it can reach a test poster.

The study lives in Optuna's storage (an SQLite file by default, any SQLAlchemy URL such as
``postgresql://...``), so it can be interrupted and resumed, and several worker processes
or machines can run the same study at once: start ``tune`` with the same ``--storage`` and
``--study`` anywhere. ``--trials N`` is the number of finished (complete or pruned) trials
the *study* should reach, whichever workers run them. A trial cut off by Ctrl-C or a kill
is marked failed (a killed worker's trial once its heartbeat goes stale) and its parameters
are queued again, so a grid loses no point. Bad trials are pruned after a CV round whose
running mean is below the median of earlier trials at that round.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..atomic import write_json, write_text
from ..cache import default_cache_dir
from ..data.dataset import Dataset
from ..data.splits import TEST, Split, load_or_make_split
from ..data.vocab import build_vocabulary
from ..errors import UserError
from ..evaluation import summarise_folds
from ..progress import stderr
from ..models.space import SearchSpace, set_path

HEARTBEAT_S = 30  # a running trial writes a heartbeat this often ...
GRACE_S = 120  # ... and is declared failed (and requeued) when silent for this long
HEADLINE = ("macro_map", "macro_roc_auc", "macro_f1", "micro_f1", "samples_f1")
LOWER_IS_BETTER = {"hamming_loss"}


@dataclass
class TuneResult:
    study_name: str
    storage: str  # password hidden
    out: Path
    counts: dict[str, int]
    best_value: float | None
    best_params: dict[str, Any]
    best_config: Path | None


def get_space(model: str, space: str) -> SearchSpace:
    from ..models.choices import get_model

    choice = get_model(model)
    if space not in choice.spaces:
        raise UserError(
            f"model {model!r} has no search space {space!r}; its spaces: {', '.join(choice.spaces)}"
        )
    return choice.spaces[space]


def configure(base, params: dict[str, Any]):
    """A new ``TrainConfig``: ``base`` with ``params`` (dotted paths) set, validated."""
    from ..train import TrainConfig

    d = json.loads(json.dumps(base.to_json()))
    for path, value in params.items():
        set_path(d, path, value)
    return TrainConfig.from_json(d)


def training_part(ds: Dataset, split: Split) -> tuple[Dataset, Split]:
    """The dataset and split restricted to the training folds: what tuning may read."""
    parts = {i: p for i, p in split.parts.items() if p != TEST}
    frame = ds.frame[ds.frame["id"].isin(parts)].reset_index(drop=True)
    return (
        dataclasses.replace(ds, frame=frame),
        Split(parts, split.folds, split.test_fraction, split.seed, split.fingerprint),
    )


def open_storage(url: str):
    """An Optuna RDB storage with heartbeats; SQLite waits for locks held by other workers."""
    import optuna

    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    # Workers starting together race to create the schema; the loser retries on the tables
    # the winner made.
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    heartbeat_stale_trial_callback=_requeue_one,
                    **kwargs,
                )
        except Exception as e:  # noqa: BLE001 - SQLAlchemy/driver errors are many and untyped
            if attempt == 4:
                raise UserError(f"cannot open study storage {hide_password(url)}: {e}") from None
            time.sleep(0.5 * (attempt + 1))


def hide_password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


def _params_key(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _lost_params(trial) -> dict | None:
    """A failed trial's parameters (from the grid id when it failed before suggesting)."""
    if trial.params:
        return dict(trial.params)
    attrs = trial.system_attrs
    if "grid_id" in attrs and "search_space" in attrs:
        import itertools

        space = attrs["search_space"]
        point = list(itertools.product(*space.values()))[attrs["grid_id"]]
        return dict(zip(space, point, strict=True))
    return None


def requeue_failed(study) -> int:
    """Queue again every failed trial's parameters that no other trial has finished, runs or
    waits to run. Returns how many were queued."""
    import optuna
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    covered = set()
    for t in trials:
        if t.state in (
            TrialState.COMPLETE,
            TrialState.PRUNED,
            TrialState.RUNNING,
            TrialState.WAITING,
        ):
            params = t.system_attrs.get("fixed_params") or _lost_params(t)
            if params:
                covered.add(_params_key(params))
    queued = 0
    for t in trials:
        if t.state != TrialState.FAIL:
            continue
        params = _lost_params(t)
        if not params or _params_key(params) in covered:
            continue
        if "grid_id" in t.system_attrs:  # the grid sampler picks the point from its id
            keep = {k: t.system_attrs[k] for k in ("grid_id", "search_space")}
            study.add_trial(
                optuna.trial.create_trial(
                    state=TrialState.WAITING,
                    system_attrs=keep,
                    user_attrs={"requeued_from": t.number},
                )
            )
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.enqueue_trial(params, user_attrs={"requeued_from": t.number})
        covered.add(_params_key(params))
        queued += 1
    return queued


def _requeue_one(study, trial) -> None:  # heartbeat: a killed worker's trial went stale
    requeue_failed(study)


@contextmanager
def _sigterm_as_interrupt():
    """``kill`` (SIGTERM) ends a trial like Ctrl-C: marked failed, queued again later."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def tune(
    ds: Dataset,
    split_path: Path,
    base,
    space: SearchSpace,
    *,
    trials: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    out: Path | None = None,
    metric: str = "macro_map",
    prune: bool = True,
    seed: int | None = None,
    timeout: float | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    read_inputs: Callable | None = None,
) -> TuneResult:
    """Run (or join, or resume) a study; then write its report. ``base`` is the
    ``TrainConfig`` every trial starts from (its ``model`` picks the estimator)."""
    import optuna

    from ..train import cross_validate, load_inputs

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study_name = study_name or f"{base.model}-{space.name}"
    out = Path(out or Path("tune") / study_name)
    out.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(out / 'tune.db').resolve()}"
    cache_dir = cache_dir or default_cache_dir()
    read_inputs = read_inputs or load_inputs

    split, _ = load_or_make_split(ds, split_path, base.folds, base.test, base.seed)
    base = configure(base, {**space.fixed, "folds": split.folds})
    ds_train, split_train = training_part(ds, split)
    del ds, split  # from here on, only the training part exists
    vocab = build_vocabulary(list(ds_train.labelled["genres"]), base.min_support)
    if not vocab.genres:
        raise UserError(f"no genre has {base.min_support} training examples (lower --min-support)")

    direction = "minimize" if metric in LOWER_IS_BETTER else "maximize"
    if space.is_grid:
        sampler = optuna.samplers.GridSampler(space.grid(), seed=seed)
        trials = trials or space.size()
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
        trials = trials or 20
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
        if prune
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        storage=open_storage(storage),
        study_name=study_name,
        direction=direction,
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    _check_study(study, base, space, metric, split_train.fingerprint)

    cached: dict[str, Any] = {}

    def inputs(config):
        from ..models.choices import get_model

        choice = get_model(config.model)
        key = json.dumps(
            [
                config.model,
                config.backbones,
                config.tta,
                config.train_subset,
                config.seed,
                choice.pixel_hw(config) if choice.inputs == "pixels" else None,
            ]
        )
        if key not in cached:
            cached.clear()
            cached[key] = read_inputs(ds_train, split_train, vocab, config, cache_dir, progress)
        return cached[key]

    worker = f"{socket.gethostname()}:{os.getpid()}"

    def objective(trial) -> float:
        params = space.suggest(trial)
        config = configure(base, params)
        trial.set_user_attr("worker", worker)
        t0 = time.perf_counter()
        f = inputs(config)

        def on_fold(k: int, fold_metrics: list[dict]) -> None:
            running = float(np.mean([m[metric] for m in fold_metrics]))
            trial.report(running, k)
            if trial.should_prune():
                trial.set_user_attr("seconds", time.perf_counter() - t0)
                raise optuna.TrialPruned(f"CV round {k + 1}: running {metric} {running:.4f}")

        stderr.print(f"trial {trial.number}: {trial.params}", highlight=False)
        fold_metrics, _, best_epochs = cross_validate(f, config, vocab.genres, on_fold)
        summary = summarise_folds(fold_metrics)["metrics"]
        trial.set_user_attr("cv", {k: summary[k] for k in (*HEADLINE, metric) if k in summary})
        trial.set_user_attr("best_epochs", [int(e) for e in best_epochs])
        trial.set_user_attr("n_train", int(len(f.ids)))
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        return float(summary[metric]["mean"])

    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    done_states = (TrialState.COMPLETE, TrialState.PRUNED)
    requeue_failed(study)
    if len(study.get_trials(deepcopy=False, states=done_states)) < trials:
        try:
            with _sigterm_as_interrupt():
                study.optimize(
                    objective,
                    timeout=timeout,
                    gc_after_trial=True,
                    callbacks=[MaxTrialsCallback(trials, states=done_states)],
                )
        except KeyboardInterrupt:
            write_report(study, out, base, space, metric, storage)  # what is finished so far
            raise
    return write_report(study, out, base, space, metric, storage)


def _check_study(study, base, space: SearchSpace, metric: str, fingerprint: str) -> None:
    """A new study records what it tunes; a resumed one must tune the same thing."""
    mine = {
        "model": base.model,
        "space": space.name,
        "metric": metric,
        "split_fingerprint": fingerprint,
    }
    attrs = study.user_attrs
    if not attrs:
        for k, v in {**mine, "space_spec": space.to_json(), "base_config": base.to_json()}.items():
            study.set_user_attr(k, v)
        return
    differ = {k: (attrs.get(k), v) for k, v in mine.items() if attrs.get(k) != v}
    if differ:
        what = ", ".join(f"{k} {a!r} (study) vs {b!r} (now)" for k, (a, b) in differ.items())
        raise UserError(
            f"study {study.study_name!r} tunes something else: {what}; use another --study name"
        )


def trials_table(study, metric: str) -> pd.DataFrame:
    """One row per trial: number, state, value, parameters, CV headline metrics, time."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"trial": t.number, "state": t.state.name, f"cv_{metric}": t.value}
        row.update({k: v for k, v in t.params.items()})
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
    order = {"COMPLETE": 0, "PRUNED": 1, "RUNNING": 2, "WAITING": 3, "FAIL": 4}
    df["_o"] = df["state"].map(order)
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
        s.name.lower(): len(study.get_trials(deepcopy=False, states=(s,)))
        for s in (
            TrialState.COMPLETE,
            TrialState.PRUNED,
            TrialState.FAIL,
            TrialState.RUNNING,
            TrialState.WAITING,
        )
    }
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = study.best_trial if complete else None
    best_config = None
    if best is not None:
        best_config = out / "best_config.json"
        config = configure(base, {**space.fixed, **best.params})
        write_json(best_config, config.to_json())
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
    _plots(study, out / "plots")
    return TuneResult(
        study.study_name,
        hide_password(storage),
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
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as ovm

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return
    folder.mkdir(parents=True, exist_ok=True)
    plots = {
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

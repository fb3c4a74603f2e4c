"""``postergenre tune``: an Optuna study over one model's search space.

The objective is the model's k-fold CV on the training part only (``objective``); the study
lives in Optuna storage (``storage``: an SQLite file by default, or any SQLAlchemy URL), so
it can be interrupted and resumed, and several workers or machines can run it at once with
the same ``--storage`` and ``--study``. ``trials`` is the number of finished (complete or
pruned) trials the *study* should reach, whichever workers run them. A trial cut off by
Ctrl-C or a kill is marked failed and its parameters are queued again. Each worker writes
the report (``reports``) when it stops.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..cache import default_cache_dir
from ..data.dataset import Dataset
from ..data.splits import load_or_make_split
from ..errors import UserError
from ..models.space import SearchSpace
from .objective import (
    CVObjective,
    check_metric,
    configure,
    direction,
    training_part,
    training_vocabulary,
)
from .results import TuneResult, write_report
from .storage import open_storage, requeue_failed

DEFAULT_TRIALS = 20  # of a TPE study (a grid's default: its size)
MAX_TRIALS = 100_000
MAX_SEED = 2**32 - 1  # what Optuna's samplers (numpy) accept
# (low, high) of config settings of these names, in whichever section (model) they stand
CONFIG_LIMITS: dict[str, tuple[int, int | None]] = {
    "min_support": (1, 10**9),
    "train_subset": (10, 10**9),  # more than the training part: all of it
    "cv_rounds": (1, 20),  # more than the folds: all of them
    "max_epochs": (1, 10_000),
    "image_hw": (1, 1024),  # pixel inputs; the canvas is 268 x 182
}


def get_space(model: str, space: str | None = None) -> SearchSpace:
    """The search space ``space`` declared by ``model`` (its first one by default)."""
    from ..models.registry import get_model

    try:
        choice = get_model(model)
    except ValueError as e:
        raise UserError(str(e)) from None
    space = space or next(iter(choice.spaces))
    if space not in choice.spaces:
        raise UserError(
            f"model {model!r} has no search space {space!r}; its spaces: {', '.join(choice.spaces)}"
        )
    return choice.spaces[space]


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
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    try:
        check_metric(metric)
    except ValueError as e:
        raise UserError(str(e)) from None
    base = configure(base, space.fixed)
    trials = check_settings(base, space, trials, seed, timeout)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study_name = study_name or f"{base.model}-{space.name}"
    out = Path(out or Path("tune") / study_name)
    out.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(out / 'tune.db').resolve()}"

    split, _ = load_or_make_split(ds, split_path, base.folds, base.test, base.seed)
    base = configure(base, {"folds": split.folds})
    ds_train, split_train = training_part(ds, split)
    del ds, split  # from here on, only the training part exists
    vocab = training_vocabulary(ds_train, base.min_support)

    sampler: optuna.samplers.BaseSampler
    if space.is_grid:
        sampler = optuna.samplers.GridSampler(space.grid(), seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
        if prune
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        storage=open_storage(storage),
        study_name=study_name,
        direction=direction(metric),
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    _check_study(study, base, space, metric, split_train.fingerprint)
    cache_dir = cache_dir or default_cache_dir()
    objective = CVObjective(
        ds_train, split_train, vocab, base, space, metric, cache_dir, progress, read_inputs
    )

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


def check_settings(base, space: SearchSpace, trials, seed, timeout) -> int:
    """Refuse out-of-range numbers in one line naming the setting, before anything is read
    or written. Returns the number of trials to reach (given, or the default)."""
    size = space.size()
    grid = f" (the size of grid {space.name!r})" if size else ""
    _in_range("trials", trials, 1, size or MAX_TRIALS, grid)
    _in_range("seed", seed, 0, MAX_SEED)
    if timeout is not None and not 0 < timeout < math.inf:
        raise UserError(f"timeout must be a positive number of seconds, not {timeout}")
    for path, value in _settings(base.to_json()):
        name = path.rpartition(".")[2]
        if name in CONFIG_LIMITS:
            for v in value if isinstance(value, list) else [value]:
                _in_range(path, v, *CONFIG_LIMITS[name])
    return trials or size or DEFAULT_TRIALS


def _settings(config: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted path, value)`` of every setting in a config's JSON."""
    for key, value in config.items():
        if isinstance(value, dict):
            yield from _settings(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _in_range(name: str, value, low: int, high: int | None = None, why: str = "") -> None:
    """A ``UserError`` when ``value`` (None: not set) is outside ``low..high``."""
    if value is not None and not (low <= value and (high is None or value <= high)):
        bound = f"at least {low}" if high is None else f"from {low} to {high}{why}"
        raise UserError(f"{name} must be {bound}, not {value}")


def _check_study(study, base, space: SearchSpace, metric: str, fingerprint: str) -> None:
    """A new study records what it tunes; a resumed one must tune the same thing. What is not
    recorded yet (a study another worker is setting up this moment) is recorded here too."""
    mine = {
        "model": base.model,
        "space": space.name,
        "metric": metric,
        "split_fingerprint": fingerprint,
    }
    attrs = study.user_attrs
    differ = {k: (attrs[k], v) for k, v in mine.items() if k in attrs and attrs[k] != v}
    if differ:
        what = ", ".join(f"{k} {a!r} (study) vs {b!r} (now)" for k, (a, b) in differ.items())
        raise UserError(
            f"study {study.study_name!r} tunes something else: {what}; use another --study name"
        )
    for k, v in {**mine, "space_spec": space.to_json(), "base_config": base.to_json()}.items():
        if k not in attrs:
            study.set_user_attr(k, v)


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

"""The objective: a trial's k-fold CV on the *training part only*, exactly the CV ``train``
runs, pruned after a round whose running mean lags the earlier trials at that round.

``training_part`` cuts the test part out of the dataset and split before anything is read,
so no code path below the objective can reach a test poster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np

from ..data.dataset import Dataset
from ..data.splits import TEST, Split
from ..data.vocab import Vocabulary, build_vocabulary
from ..errors import UserError
from ..evaluation import HEADLINE_KEYS, summarise_folds
from ..evaluation.metrics import LOWER_IS_BETTER, SCALAR_KEYS
from ..models.space import SearchSpace
from ..progress import stderr


def _training() -> SimpleNamespace:
    """The training code tuning runs: imported late (it loads torch) and looked up on each
    use, so a patched function is the one called."""
    from ..training import TrainConfig, cross_validate, load_inputs

    return SimpleNamespace(
        TrainConfig=TrainConfig, cross_validate=cross_validate, load_inputs=load_inputs
    )


def train_config(d: dict | None = None):
    """A ``TrainConfig`` from its JSON form (the defaults without one), validated
    (``UserError`` naming a bad value)."""
    config = _training().TrainConfig
    try:
        return config() if d is None else config.from_json(d)
    except (TypeError, ValueError) as e:
        raise UserError(str(e)) from None


def configure(base, params: dict[str, Any]):
    """A new ``TrainConfig``: ``base`` with ``params`` (dotted paths) set, validated."""
    try:
        return base.with_values(params)
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(str(e)) from None


def training_part(ds: Dataset, split: Split) -> tuple[Dataset, Split]:
    """The dataset and split restricted to the training folds: what tuning may read."""
    parts = {i: p for i, p in split.parts.items() if p != TEST}
    frame = ds.frame[ds.frame["id"].isin(parts)].reset_index(drop=True)
    return (
        dataclasses.replace(ds, frame=frame),
        Split(parts, split.folds, split.test_fraction, split.seed, split.fingerprint),
    )


def training_vocabulary(ds_train: Dataset, min_support: int) -> Vocabulary:
    """The genres with ``min_support`` training examples (what ``train`` would predict)."""
    vocab = build_vocabulary(list(ds_train.labelled["genres"]), min_support)
    if not vocab.genres:
        raise UserError(f"no genre has {min_support} training examples (lower --min-support)")
    return vocab


def input_key(config) -> str:
    """What a config's model inputs depend on: the named inputs its model reads (backbone
    embeddings, pixels at some size, ...), the training subset and the seed that draws it."""
    from ..models.registry import get_model

    names = [s.name for s in get_model(config.model).inputs(config.settings)]
    return json.dumps([names, config.train_subset, config.seed])


def direction(metric: str) -> Literal["minimize", "maximize"]:
    return "minimize" if metric in LOWER_IS_BETTER | {"ece", "brier"} else "maximize"


def check_metric(metric: str) -> str:
    """``ValueError`` unless ``metric`` is a CV metric a study can optimise."""
    choices = [k for k in SCALAR_KEYS if k not in ("n_samples", "n_genres")]
    if metric not in choices:
        raise ValueError(f"--metric {metric!r} is not a CV metric; choose one of "
                         f"{', '.join(choices)}")
    return metric


def pruning_callback(trial, metric: str, t0: float) -> Callable[[int, list[dict]], None]:
    """``on_fold`` for ``cross_validate``: report the running mean, prune when told to."""
    import optuna

    def on_fold(k: int, fold_metrics: list[dict]) -> None:
        running = float(np.mean([m[metric] for m in fold_metrics]))
        trial.report(running, k)
        if trial.should_prune():
            trial.set_user_attr("seconds", time.perf_counter() - t0)
            raise optuna.TrialPruned(f"CV round {k + 1}: running {metric} {running:.4f}")

    return on_fold


class CVObjective:
    """The trial function: ``base`` with the trial's parameters, cross-validated on the
    training part; returns the mean of ``metric`` over the CV rounds."""

    def __init__(
        self,
        ds_train: Dataset,
        split_train: Split,
        vocab: Vocabulary,
        base,
        space: SearchSpace,
        metric: str,
        cache_dir: Path,
        progress: bool = True,
        read_inputs: Callable | None = None,
    ):
        self.ds, self.split, self.vocab = ds_train, split_train, vocab
        self.base, self.space, self.metric = base, space, metric
        self.cache_dir, self.progress = cache_dir, progress
        self.read_inputs = read_inputs or _training().load_inputs
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._cached: dict[str, Any] = {}  # the last inputs read, by what they depend on

    def inputs(self, config):
        """The model inputs ``config`` needs; read again only when they differ."""
        key = input_key(config)
        if key not in self._cached:
            self._cached.clear()
            self._cached[key] = self.read_inputs(
                self.ds, self.split, self.vocab, config, self.cache_dir, self.progress
            )
        return self._cached[key]

    def __call__(self, trial) -> float:
        config = configure(self.base, self.space.suggest(trial))
        trial.set_user_attr("worker", self.worker)
        t0 = time.perf_counter()
        f = self.inputs(config)
        stderr.print(f"trial {trial.number}: {trial.params}", highlight=False)
        on_fold = pruning_callback(trial, self.metric, t0)
        cv_result = _training().cross_validate(f, config, self.vocab.genres, on_fold)
        summary = summarise_folds(cv_result.fold_metrics)["metrics"]
        cv = {k: summary[k] for k in (*HEADLINE_KEYS, self.metric) if k in summary}
        trial.set_user_attr("cv", cv)
        trial.set_user_attr("best_epochs", [int(e) for e in cv_result.best_epochs])
        trial.set_user_attr("n_train", int(len(f.ids)))
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        return float(summary[self.metric]["mean"])

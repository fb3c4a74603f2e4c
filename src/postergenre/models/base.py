"""The one estimator contract every model follows (in the spirit of scikit-learn's).

An estimator reads named ``Inputs`` (``features.inputs``): ``inputs`` lists the names it
reads. ``fit`` trains on them (with validation data: early stopping on validation macro AP,
``best_epoch`` says where; without: ``epochs`` epochs), ``predict_proba`` gives (n, genres)
probabilities, ``history`` holds one record per epoch, and ``graph_module`` is the fitted
model as a torch module from ``{input name: tensor}`` to probabilities, which the bundle
puts behind the modules that make those inputs from a record and exports to ONNX.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sklearn.metrics import average_precision_score
from torch import nn

from ..features.inputs import Inputs
from ..features.specs import InputSpec
from .space import SearchSpace


@runtime_checkable
class Estimator(Protocol):
    inputs: list[str]
    history: list[dict]
    best_epoch: int

    def fit(
        self,
        inputs: Inputs,
        y: np.ndarray,
        val_inputs: Inputs | None = None,
        val_y: np.ndarray | None = None,
        epochs: int | None = None,
    ) -> Estimator: ...

    def predict_proba(self, inputs: Inputs) -> np.ndarray: ...

    def graph_module(self) -> nn.Module: ...


def macro_ap(y: np.ndarray, p: np.ndarray) -> float:
    """Mean AP over genres with at least one positive (the early-stopping score)."""
    cols = [j for j in range(y.shape[1]) if y[:, j].any()]
    return float(np.mean([average_precision_score(y[:, j], p[:, j]) for j in cols]))


def fitted(module: nn.Module | None) -> nn.Module:
    if module is None:
        raise RuntimeError("fit the model first")
    return module


@dataclass(frozen=True)
class ModelChoice:
    """What ``train --model NAME`` trains: the inputs it reads, how to make an unfitted
    estimator from a training config, how the bundle and ``compare`` describe it, which
    search spaces ``tune`` offers and how the final model is made after CV by default
    (``cv-ensemble``: the fold models averaged; ``refit``: one model on all training folds)."""

    name: str
    summary: str
    inputs: Callable[[Any], list[InputSpec]]  # config -> the named inputs it reads
    make: Callable[[Any, list[str]], Estimator]  # (config, input names) -> unfitted estimator
    describe: Callable[[Any], dict]  # config -> the bundle's "model" entry
    settings: Callable[[Any], str]  # config -> one line for leaderboards
    device: Callable[[Any], str] = lambda config: "cpu"
    default_final: str = "refit"
    spaces: dict[str, SearchSpace] = field(default_factory=dict)

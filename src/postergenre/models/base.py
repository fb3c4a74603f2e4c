"""The one estimator contract every model follows (in the spirit of scikit-learn's).

An estimator reads named ``Inputs`` (``features.inputs``): ``inputs`` lists the names it
reads. ``fit`` trains on them (with validation data: early stopping on validation macro AP,
``best_epoch`` says where; without: ``epochs`` epochs), ``predict_proba`` gives (n, genres)
probabilities, ``history`` holds one record per epoch, and ``graph_module`` is the fitted
model as a torch module from ``{input name: tensor}`` to probabilities, which the bundle
puts behind the modules that make those inputs from a record and exports to ONNX.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch import nn

from ..features.inputs import Inputs
from ..features.specs import InputSpec
from .settings import Settings
from .space import SearchSpace

S = TypeVar("S", bound=Settings)
T = TypeVar("T")


@runtime_checkable
class Estimator(Protocol):
    inputs: list[str]

    @property
    def history(self) -> list[dict]: ...

    @property
    def best_epoch(self) -> int: ...

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


class Wrapper:
    """An estimator around ``self.model`` (a blend with something else): its training record
    is the model's."""

    model: Estimator

    @property
    def history(self) -> list[dict]:
        return self.model.history

    @property
    def best_epoch(self) -> int:
        return self.model.best_epoch


def given_rows(inputs: Inputs, names: Sequence[str]) -> np.ndarray:
    """Which rows have any of the inputs ``names`` (none, when ``names`` is empty)."""
    return np.any([inputs.masks[n] for n in names], axis=0) if names \
        else np.zeros(len(inputs), bool)


def given_in_graph(inputs: dict[str, torch.Tensor], names: Sequence[str]) -> torch.Tensor:
    """``given_rows`` inside a graph: 1 where any ``name + "?"`` presence is set."""
    return torch.stack([inputs[n + "?"] for n in names], dim=1).amax(dim=1)


def macro_ap(y: np.ndarray, p: np.ndarray) -> float:
    """Mean AP over genres with at least one positive (the early-stopping score)."""
    cols = [j for j in range(y.shape[1]) if y[:, j].any()]
    return float(np.mean([average_precision_score(y[:, j], p[:, j]) for j in cols]))


def column_scale(var: torch.Tensor) -> torch.Tensor:
    """The scale each input column is divided by: its standard deviation, with a tenth of the
    median column variance added first, so near-constant columns don't explode and columns on
    a larger scale (a backbone's stage averages) do not damp the rest."""
    return (var + 0.1 * var.median() + 1e-8).sqrt()


def fitted(module: T | None) -> T:
    """The fitted part of a model (its module, its fallback); ``RuntimeError`` before ``fit``."""
    if module is None:
        raise RuntimeError("fit the model first")
    return module


def _cpu(settings: Any) -> str:
    return "cpu"


@dataclass(frozen=True)
class ModelChoice(Generic[S]):
    """What ``train --model NAME`` trains: its settings class, the inputs it reads, how to
    make an unfitted estimator (seeded by the run's seed), how the bundle and ``compare``
    describe it, which search spaces ``tune`` offers and how the final model is made after
    CV by default (``cv-ensemble``: the fold models averaged; ``refit``: one model on all
    training folds)."""

    name: str
    summary: str
    settings: type[S]
    inputs: Callable[[S], Sequence[InputSpec]]  # the named inputs it reads
    make: Callable[[S, list[str], int], Estimator]  # (settings, input names, seed) -> unfitted
    describe: Callable[[S], dict]  # the bundle's "model" entry
    label: Callable[[S], str]  # one line for leaderboards
    device: Callable[[S], str] = _cpu
    default_final: str = "refit"
    spaces: dict[str, SearchSpace] = field(default_factory=dict)

"""Search spaces, declared as data next to each model.

A space maps a dotted path into ``TrainConfig`` (``"seed_cnn.activation"``, ``"head.lr"``)
to a parameter: ``Categorical`` choices, a ``Float`` or an ``Int`` range. A space whose
parameters are all categorical is a grid and is searched exhaustively (Optuna's
``GridSampler``); any other is searched with TPE. ``fixed`` values are set on every trial
(the prototype's learning rate, epochs and batch size, say) without being searched.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Categorical:
    choices: tuple

    def suggest(self, trial, name: str):
        return trial.suggest_categorical(name, list(self.choices))

    def describe(self) -> str:
        return "{" + ", ".join(map(str, self.choices)) + "}"


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    log: bool = False

    def suggest(self, trial, name: str):
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def describe(self) -> str:
        return f"[{self.low:g}, {self.high:g}]" + (" log" if self.log else "")


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    step: int = 1
    log: bool = False

    def suggest(self, trial, name: str):
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def describe(self) -> str:
        return f"{self.low}..{self.high}" + (f" step {self.step}" if self.step != 1 else "")


Param = Categorical | Float | Int


@dataclass(frozen=True)
class SearchSpace:
    """Named parameters (dotted ``TrainConfig`` paths) plus fixed settings."""

    name: str
    description: str
    params: dict[str, Param]
    fixed: dict[str, Any] = field(default_factory=dict)

    @property
    def is_grid(self) -> bool:
        return all(isinstance(p, Categorical) for p in self.params.values())

    def grid(self) -> dict[str, list]:
        """``{path: choices}`` for ``optuna.samplers.GridSampler`` (grid spaces only)."""
        grid = {k: list(p.choices) for k, p in self.params.items() if isinstance(p, Categorical)}
        if len(grid) < len(self.params):
            raise ValueError(f"space {self.name!r} has ranges; it is not a grid")
        return grid

    def grid_points(self) -> list[dict]:
        grid = self.grid()
        keys = list(grid)
        return [
            dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())
        ]

    def size(self) -> int | None:
        return len(self.grid_points()) if self.is_grid else None

    def suggest(self, trial) -> dict[str, Any]:
        """Ask the trial for every parameter (in declaration order); the fixed ones added."""
        return {**self.fixed, **{k: p.suggest(trial, k) for k, p in self.params.items()}}

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "params": {k: p.describe() for k, p in self.params.items()},
            "fixed": self.fixed,
            "grid": self.is_grid,
        }


def set_path(d: dict, path: str, value: Any) -> None:
    """Set ``d["a"]["b"] = value`` for ``path = "a.b"``; unknown keys are an error."""
    *parents, last = path.split(".")
    node = d
    for key in parents:
        if key not in node or not isinstance(node[key], dict):
            raise KeyError(f"{path}: no config section {key!r}")
        node = node[key]
    if last not in node:
        raise KeyError(f"{path}: no config setting {last!r}")
    node[last] = value


def check_ranges(label: str, config: Any, limits: tuple[tuple[str, int | float, int | float],
                                                          ...]) -> None:
    """``ValueError`` naming the first ``(field, low, high)`` of ``config`` out of range: the
    field must be of ``low``'s type (an int passes for a float; a bool or NaN never does)."""
    for name, low, high in limits:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int | type(low)) or not (
                low <= value <= high):  # False for NaN
            raise ValueError(f"{label} {name} must be {type(low).__name__} in [{low}, {high}], "
                             f"not {value!r}")


LOSSES = ("bce", "weighted_bce", "focal", "asl")  # implemented in ``losses``


def check_loss(name: str) -> None:
    """``ValueError`` unless ``name`` is one of ``LOSSES``."""
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, not {name!r}")

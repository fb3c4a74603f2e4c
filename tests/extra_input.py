"""A new input in one module: the running time, read by any model that names ``runtime``.

Nothing else in the package knows of it: registering the field makes datasets read its
column, bundles declare it, predictions prepare it and fusion accept it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from postergenre.features.specs import Field, InputSpec, register
from postergenre.features.specs.base import column


def minutes(value: Any) -> np.ndarray | None:
    try:
        m = float(value)
    except (TypeError, ValueError):
        return None
    return np.array([m], np.float32) if 0 < m < 10_000 else None


RUNTIME = Field(name="runtime", type="number", prepare=minutes, batch=np.stack,
                example=lambda n: torch.linspace(0, 200, n)[:, None],
                absent=lambda: np.zeros(1, np.float32),
                present=lambda m: (m[:, 0] > 0).float(), columns=("runtime", "minutes"),
                help="Running time in minutes.", preprocessing={"unit": "minutes"})


class LogMinutes(nn.Module):
    def forward(self, m: torch.Tensor) -> torch.Tensor:
        return torch.log1p(m.clamp(min=0)) / 5


@dataclass(frozen=True)
class RuntimeInput(InputSpec):
    name = "runtime:log"
    field = RUNTIME

    def make(self, fitted, rows, cache_dir, progress=True, engine=None):
        rows_ = [minutes(v) for v in column(rows, "runtime")]
        present = np.array([r is not None for r in rows_])
        m = np.stack([r if r is not None else RUNTIME.absent() for r in rows_])
        return np.log1p(m) / 5, present, {}

    def graph_module(self, fitted) -> nn.Module:
        return LogMinutes()

    def describe(self, fitted) -> dict:
        return {"scale": "log1p(minutes) / 5"}


register(RUNTIME, RuntimeInput)

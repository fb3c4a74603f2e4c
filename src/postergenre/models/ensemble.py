"""The fold ensemble: the models fitted in cross-validation, averaged.

It follows the estimator contract like any single model: ``predict_proba`` and the graph
average the members' probabilities; ``fit`` refits every member in place. ``ensemble`` makes
one from fold models, or lets their class ``merge`` them (one that keeps training rows, say).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..features.inputs import Inputs
from .base import Estimator


class FoldEnsemble:
    def __init__(self, members: list[Estimator]):
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = list(members)
        self.inputs = list(dict.fromkeys(n for m in members for n in m.inputs))

    @property
    def best_epoch(self) -> int:
        return int(np.median([m.best_epoch for m in self.members]))

    @property
    def history(self) -> list[dict]:
        return [{"member": k, **r} for k, m in enumerate(self.members) for r in m.history]

    def fit(self, inputs: Inputs, y: np.ndarray, val_inputs: Inputs | None = None,
            val_y: np.ndarray | None = None, epochs: int | None = None) -> FoldEnsemble:
        for m in self.members:
            m.fit(inputs, y, val_inputs, val_y, epochs)
        return self

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        return np.mean([m.predict_proba(inputs) for m in self.members], axis=0)

    def graph_module(self) -> nn.Module:
        return MeanOf([m.graph_module() for m in self.members])


def ensemble(members: list[Estimator], inputs: Inputs, y: np.ndarray) -> Estimator:
    """The fold models as one final model; ``inputs`` and ``y``: every training row."""
    merge = getattr(type(members[0]), "merge", None) if members else None
    return merge(members, inputs, y) if merge is not None else FoldEnsemble(members)


class MeanOf(nn.Module):
    """The mean of several graph modules' probabilities."""

    def __init__(self, modules: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(modules)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.stack([m(inputs) for m in self.members]).mean(0)

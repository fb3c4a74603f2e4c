"""A poster model blended with a companion that reads only the movie's other inputs.

For a poster given a title, year or plot, the answer is ``(1 - w) * model + w * companion``,
where the companion is the same fused network on those optional inputs alone (what
``--model metadata`` trains); a bare poster keeps the model's answer. The fused network sees
the text beside 6,000 poster features and leans on the poster; the companion has only the
text to read, so the two disagree usefully and their blend ranked better out of fold
(docs/measurements.md). The weight is a setting, fixed for every fold.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..features.inputs import Inputs
from .base import Estimator, Wrapper, given_in_graph, given_rows


class CompanionBlend(Wrapper):
    """``model`` blended with ``companion`` (weight ``weight``) on rows that have any of
    ``optional``."""

    def __init__(self, model: Estimator, companion: Estimator, optional: list[str],
                 weight: float):
        self.model, self.companion = model, companion
        self.optional, self.weight = list(optional), float(weight)
        self.inputs = model.inputs

    def fit(self, inputs: Inputs, y: np.ndarray, val_inputs: Inputs | None = None,
            val_y: np.ndarray | None = None, epochs: int | None = None) -> CompanionBlend:
        self.model.fit(inputs, y, val_inputs, val_y, epochs)
        self.companion.fit(inputs, y, val_inputs, val_y, epochs)
        return self

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        p = self.model.predict_proba(inputs)
        given = given_rows(inputs, self.optional)
        if given.any():
            other = self.companion.predict_proba(inputs.take(given))
            p[given] = (1 - self.weight) * p[given] + self.weight * other
        return p.astype(np.float32)

    def graph_module(self) -> nn.Module:
        return CompanionGraph(self.model.graph_module(), self.companion.graph_module(),
                              self.optional, self.weight)


class CompanionGraph(nn.Module):
    """``{name: tensor, name + "?": presence}`` -> the model's probabilities, blended with the
    companion's where any optional input is present."""

    def __init__(self, model: nn.Module, companion: nn.Module, optional: list[str],
                 weight: float):
        super().__init__()
        self.model, self.companion = model, companion
        self.optional, self.weight = list(optional), float(weight)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        p = self.model(inputs)
        given = given_in_graph(inputs, self.optional)
        blend = (1 - self.weight) * p + self.weight * self.companion(inputs)
        return torch.where(given[:, None] > 0, blend, p)

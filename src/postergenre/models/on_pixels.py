"""What the models that learn from pixels share: reading their one pixel input.

``PixelEstimator`` holds the fitted module (``logits(pixels at the input's size)``), and
gives ``predict_proba`` and ``graph_module`` for it; each subclass writes its own ``fit``
around ``loop.fit_loop``.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..features.inputs import Inputs
from .base import fitted
from .loop import as_float_nchw, predict_batches, resolve_device


class PixelEstimator:
    """An estimator reading one input of uint8 (N, H, W, 3) pixels."""

    def __init__(self, pixel_input: str, device: str = "auto"):
        self.inputs = [pixel_input]
        self.module: nn.Module | None = None
        self.history: list[dict] = []
        self.best_epoch: int = 0
        self.device = resolve_device(device)

    def pixels(self, inputs: Inputs) -> np.ndarray:
        return inputs[self.inputs[0]]

    def predict_proba(self, inputs: Inputs, batch_size: int = 128) -> np.ndarray:
        return predict_batches(fitted(self.module), self.pixels(inputs),
                               lambda x: as_float_nchw(x, self.device), batch_size)

    def graph_module(self) -> nn.Module:
        """The fitted module on the CPU: ``{input: float pixels}`` -> probabilities."""
        return OneInput(self.inputs[0], copy.deepcopy(fitted(self.module)).to("cpu").eval())


class OneInput(nn.Module):
    """``{name: tensor}`` -> sigmoid(net.logits(tensor))."""

    def __init__(self, name: str, net: nn.Module):
        super().__init__()
        self.name, self.net = name, net

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.sigmoid(self.net.logits(inputs[self.name]))

"""What the models that learn from pixels share: reading their one pixel input.

``PixelEstimator`` holds the fitted module (``logits(pixels at the input's size)``), and
gives ``predict_proba`` and ``graph_module`` for it; each subclass writes its own ``fit``
around ``loop.fit_loop``.
"""

from __future__ import annotations

import copy
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ..features.inputs import Inputs
from .base import fitted, macro_ap
from .loop import LogitsModule, as_float_nchw, fit_loop, predict_batches, resolve_device


class Schedule(Protocol):
    """The training schedule a pixel model's config holds."""

    batch_size: int
    max_epochs: int
    patience: int
    cosine: bool
    seed: int


class PixelEstimator:
    """An estimator reading one input of uint8 (N, H, W, 3) pixels; ``config`` has the
    schedule (batch_size, max_epochs, patience, cosine, seed, device)."""

    config: Schedule  # set by each subclass, to its own config

    def __init__(self, pixel_input: str, device: str = "auto"):
        self.inputs = [pixel_input]
        self.module: LogitsModule | None = None
        self.history: list[dict] = []
        self.best_epoch: int = 0
        self.device = resolve_device(device)

    def run_loop(self, module: LogitsModule, optimizer: torch.optim.Optimizer, batch,
                 y: np.ndarray, val_inputs: Inputs | None, val_y: np.ndarray | None,
                 epochs: int | None, loss: str, train_mode=nn.Module.train):
        """Run ``fit_loop`` on ``module`` with the config's schedule; early stopping on the
        validation data when given."""
        c = self.config
        validate = None
        if val_inputs is not None and val_y is not None:
            validate = lambda: macro_ap(val_y, self.predict_proba(val_inputs))  # noqa: E731
        result = fit_loop(module, optimizer, batch, y, loss=loss, batch_size=c.batch_size,
                          epochs=epochs or c.max_epochs, seed=c.seed, device=self.device,
                          cosine=c.cosine, patience=c.patience, validate=validate,
                          train_mode=train_mode)
        self.best_epoch, self.history = result.best_epoch, result.history
        return self

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

    def __init__(self, name: str, net: LogitsModule):
        super().__init__()
        self.name, self.net = name, net

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.sigmoid(self.net.logits(inputs[self.name]))

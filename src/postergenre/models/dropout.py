"""Dropout with its mask drawn from random bytes: on the CPU, torch's dropout (a float
Bernoulli draw per element) costs about as much as the layer's matmul; this mask costs far
less (``benchmarks/bench_training.py``).

``p`` is rounded to a multiple of 1/256 (0.2 -> 51/256); evaluation is the identity, as
with ``nn.Dropout``, so graphs and weights are unchanged. The byte stream is seeded from
torch's generator on first use, so ``torch.manual_seed`` still fixes a run.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class ByteDropout(nn.Dropout):
    """``nn.Dropout`` with a uint8 mask on the CPU (other devices: torch's own)."""

    _rng: np.random.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu":
            return super().forward(x)
        if self._rng is None:
            self._rng = np.random.default_rng(int(torch.randint(2**62, (1,))))
        cut = min(255, round(self.p * 256))
        keep = np.frombuffer(self._rng.bytes(x.numel()), np.uint8).reshape(x.shape) >= cut
        return x * torch.from_numpy(keep) * (256 / (256 - cut))

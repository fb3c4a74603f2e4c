"""The training loop's bf16 autocast gate and the byte-mask dropout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from postergenre.models import loop
from postergenre.models.dropout import ByteDropout


class Recorder(nn.Module):
    """A linear model that records whether each training forward ran under CPU autocast."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.autocast: list[bool] = []

    def logits(self, x):
        self.autocast.append(torch.is_autocast_enabled("cpu"))
        return self.linear(x)


@pytest.mark.parametrize("native, asked, expected", [(True, True, True), (True, False, False),
                                                     (False, True, False)])
def test_bf16_autocast_only_when_asked_and_native(monkeypatch, native, asked, expected):
    monkeypatch.setattr(loop, "native_bf16", lambda: native)
    x = torch.randn(64, 4)
    y = (x[:, :2] > 0).numpy().astype(np.float32)
    module = Recorder()
    loop.fit_loop(module, torch.optim.SGD(module.parameters(), lr=0.1),
                  lambda rows: x[torch.from_numpy(rows)], y, loss="bce", batch_size=16,
                  epochs=2, seed=0, device=torch.device("cpu"), bf16=asked)
    assert module.autocast and set(module.autocast) == {expected}
    assert module.linear.weight.dtype == torch.float32  # the weights stay float32


def test_byte_dropout_keeps_the_expected_share_and_scales():
    drop = ByteDropout(0.2).train()
    x = torch.ones(400, 1000)
    torch.manual_seed(0)
    out = drop(x)
    kept = out > 0
    assert abs(kept.float().mean().item() - (1 - 51 / 256)) < 0.005  # p rounded to 51/256
    assert torch.allclose(out[kept], torch.tensor(256 / 205))
    assert abs(out.mean().item() - 1.0) < 0.01  # unbiased, as nn.Dropout


def test_byte_dropout_is_seeded_by_torch_and_identity_in_eval():
    def draw():
        torch.manual_seed(3)
        return ByteDropout(0.5).train()(torch.ones(8, 32))

    assert torch.equal(draw(), draw())
    x = torch.randn(8, 32)
    assert torch.equal(ByteDropout(0.5).eval()(x), x)
    assert torch.equal(ByteDropout(0.0).train()(x), x)
    assert ByteDropout(0.5).train()(x.to(torch.bfloat16)).dtype == torch.bfloat16

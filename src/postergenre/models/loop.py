"""The one training loop: every model that learns (heads, the seed CNN, fine-tuning) runs it.

Readable top to bottom: shuffle, batches, loss, step, optional cosine decay; after each
epoch, the validation score (macro AP) decides early stopping and which weights are kept.
What differs between models is passed in: the module (with ``logits(batch)``), its
optimizer, how a batch of rows becomes the module's input on ``device`` (augmentation
included), and how to set the module's training mode. Models whose work is matmuls (the
heads, fusion) ask for ``bf16``: on a CPU with native bfloat16 (``native_bf16``) the training
forward pass runs under autocast, which makes the matmuls faster; weights, the loss,
validation and every prediction stay float32.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from .losses import multilabel_loss, positive_weights


class LogitsModule(nn.Module):
    """A module ``fit_loop`` trains: ``logits(batch)`` are its (N, genres) scores."""

    def logits(self, batch: Any) -> torch.Tensor:
        raise NotImplementedError


M = TypeVar("M", bound=LogitsModule)


@dataclass
class LoopResult:
    best_epoch: int
    history: list[dict] = field(default_factory=list)


def fit_loop(
    module: M,
    optimizer: torch.optim.Optimizer,
    batch: Callable[[np.ndarray], Any],
    y: np.ndarray,
    *,
    loss: str,
    batch_size: int,
    epochs: int,
    seed: int,
    device: torch.device,
    cosine: bool = True,
    patience: int = 3,
    validate: Callable[[], float] | None = None,
    train_mode: Callable[[M], object] = nn.Module.train,
    bf16: bool = False,
) -> LoopResult:
    """Train ``module`` in place on rows ``0..len(y)-1``; ``batch(rows)`` gives its input.

    With ``validate`` (the validation macro AP of the module as it stands), the weights of
    the best epoch are kept and training stops after ``patience`` epochs without gain;
    without it, all ``epochs`` run and the last weights stay.
    """
    mixed = bf16 and device.type == "cpu" and native_bf16()
    rng = np.random.default_rng(seed)
    targets = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).to(device)
    pos_weight = positive_weights(targets)
    n = len(y)
    scheduler = None
    if cosine:
        steps = epochs * math.ceil(n / batch_size)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    result = LoopResult(best_epoch=epochs)
    best_score, best_state, since_best = -math.inf, None, 0
    for epoch in range(1, epochs + 1):
        train_mode(module)
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            if len(rows) < 2:  # batch norm needs two rows
                continue
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed):
                logits = module.logits(batch(rows)).float()
            step_loss = multilabel_loss(loss, logits, targets[torch.from_numpy(rows)], pos_weight)
            optimizer.zero_grad(set_to_none=True)
            step_loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += step_loss.item() * len(rows)
        record = {"epoch": epoch, "train_loss": total / n}
        if validate is not None:
            score = validate()
            record["val_macro_ap"] = score
            if score > best_score:
                best_score, since_best, result.best_epoch = score, 0, epoch
                best_state = copy.deepcopy(module.state_dict())
            else:
                since_best += 1
        result.history.append(record)
        if best_state is not None and since_best >= patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return result


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX); elsewhere bf16
    matmuls are emulated and slower than float32."""
    cpu = torch.cpu
    return any(getattr(cpu, name, lambda: False)()
               for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: the CUDA GPU when one is present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA GPU")
    return device


def as_float_nchw(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 255] on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device, non_blocking=True)
    return t.permute(0, 3, 1, 2).float()


@torch.no_grad()
def predict_batches(module: LogitsModule, x: np.ndarray,
                    batch: Callable[[np.ndarray], torch.Tensor], batch_size: int) -> np.ndarray:
    """sigmoid(module.logits(...)) over ``x`` in batches, as float32 on the CPU."""
    module.eval()
    out = [torch.sigmoid(module.logits(batch(x[i : i + batch_size])))
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).float().cpu().numpy()

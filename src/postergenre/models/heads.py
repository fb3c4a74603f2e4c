"""Heads on cached embeddings: a linear layer or an MLP, trained with PyTorch.

``HeadClassifier`` follows the scikit-learn contract (``fit``, ``predict_proba``); its
``module`` is a plain ``nn.Module`` from standardised features to probabilities, with the
standardisation inside, so it can be fused after the backbones into one ONNX graph.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch import nn

from .losses import LOSSES, multilabel_loss, positive_weights


@dataclass
class HeadConfig:
    kind: str = "mlp"  # "linear" | "mlp"
    hidden: int = 512
    dropout: float = 0.5
    input_dropout: float = 0.2
    loss: str = "asl"
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 512
    max_epochs: int = 15
    patience: int = 3
    seed: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in ("linear", "mlp"):
            raise ValueError(f"head kind must be 'linear' or 'mlp', not {self.kind!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")

    def to_json(self) -> dict:
        return asdict(self)


class HeadModule(nn.Module):
    """Standardise → (Linear | MLP) → sigmoid. ``logits`` is the trainable path."""

    def __init__(self, in_dim: int, n_out: int, config: HeadConfig):
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        layers: list[nn.Module] = [nn.Dropout(config.input_dropout)]
        if config.kind == "linear":
            layers.append(nn.Linear(in_dim, n_out))
        else:
            layers += [
                nn.Linear(in_dim, config.hidden),
                nn.BatchNorm1d(config.hidden),
                nn.GELU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.hidden, n_out),
            ]
        self.net = nn.Sequential(*layers)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


def macro_ap(y: np.ndarray, p: np.ndarray) -> float:
    """Mean AP over genres with at least one positive (the early-stopping score)."""
    cols = [j for j in range(y.shape[1]) if y[:, j].any()]
    return float(np.mean([average_precision_score(y[:, j], p[:, j]) for j in cols]))


class HeadClassifier:
    """Train a head with early stopping on validation macro AP, or for a fixed epoch count."""

    def __init__(self, config: HeadConfig | None = None):
        self.config = config or HeadConfig()
        self.module: HeadModule | None = None
        self.history: list[dict] = []
        self.best_epoch: int = 0

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        epochs: int | None = None,
    ) -> HeadClassifier:
        """Fit on (x, y). With validation data, keep the epoch with the best validation
        macro AP and stop after ``patience`` epochs without gain; else run ``epochs``."""
        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        yt = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
        module = HeadModule(x.shape[1], y.shape[1], cfg)
        module.mean.copy_(xt.mean(0))
        var = xt.var(0)
        module.std.copy_((var + 0.1 * var.mean() + 1e-8).sqrt())  # sparse dims don't explode
        pos_weight = positive_weights(yt)
        opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        n_epochs = epochs or cfg.max_epochs
        batch_size = min(cfg.batch_size, max(16, len(x) // 8))  # small sets: several steps/epoch
        steps = n_epochs * math.ceil(len(x) / batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        best, best_state, since_best = -1.0, None, 0
        self.history = []
        for epoch in range(1, n_epochs + 1):
            module.train()
            order = rng.permutation(len(x))
            total = 0.0
            for start in range(0, len(x), batch_size):
                idx = torch.from_numpy(order[start : start + batch_size])
                if len(idx) < 2:
                    continue
                loss = multilabel_loss(cfg.loss, module.logits(xt[idx]), yt[idx], pos_weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
            record = {"epoch": epoch, "train_loss": total / len(x)}
            if x_val is not None and y_val is not None:
                self.module = module
                score = macro_ap(y_val, self.predict_proba(x_val))
                record["val_macro_ap"] = score
                if score > best:
                    best, best_state, since_best = score, copy.deepcopy(module.state_dict()), 0
                    self.best_epoch = epoch
                else:
                    since_best += 1
            self.history.append(record)
            if best_state is not None and since_best >= cfg.patience:
                break
        if best_state is not None:
            module.load_state_dict(best_state)
        else:
            self.best_epoch = n_epochs
        self.module = module.eval()
        return self

    @torch.no_grad()
    def predict_proba(self, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        if self.module is None:
            raise RuntimeError("fit the head first")
        self.module.eval()
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return torch.cat(
            [self.module(xt[i : i + batch_size]) for i in range(0, len(xt), batch_size)]
        ).numpy()


class EnsembleModule(nn.Module):
    """The mean of several heads' probabilities (exported inside the fused graph)."""

    def __init__(self, heads: list[HeadModule]):
        super().__init__()
        self.heads = nn.ModuleList(heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([h(x) for h in self.heads]).mean(0)


class HeadEnsemble:
    """Fitted ``HeadClassifier``s averaged; ``module`` is their ``EnsembleModule``."""

    def __init__(self, members: list[HeadClassifier]):
        self.members = members
        self.module = EnsembleModule([m.module for m in members]).eval()
        self.best_epoch = int(np.median([m.best_epoch for m in members]))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict_proba(x) for m in self.members], axis=0)

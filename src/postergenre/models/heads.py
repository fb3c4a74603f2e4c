"""Heads on cached embeddings: a linear layer or an MLP over the concatenated named inputs.

``HeadClassifier`` follows the estimator contract (``models.base``) and trains with the one
loop (``models.loop``); its ``module`` standardises inside, so the bundle graph needs no
preprocessing after the inputs are made. With several inputs (one per backbone) it also
trains one head on each input alone and blends their mean in (``per_input``): heads that
each see one backbone disagree where one head over all of them would not, and the average
ranked better (docs/measurements.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..features.inputs import Inputs
from .base import ModelChoice, column_scale, fitted, macro_ap
from .dropout import ByteDropout
from .loop import LogitsModule, fit_loop, predict_batches
from .neighbours import NeighbourConfig, blended
from .settings import PosterSettings
from .space import Categorical, Float, SearchSpace, check_loss, check_ranges

# every number in range, checked where the library receives it (CLI, config file, trial)
HEAD_LIMITS = (("hidden", 1, 16_384), ("batch_size", 1, 65_536), ("max_epochs", 1, 10_000),
               ("patience", 1, 1_000), ("seed", 0, 2**32 - 1), ("lr", 1e-7, 1.0),
               ("weight_decay", 0.0, 1.0), ("dropout", 0.0, 0.9), ("input_dropout", 0.0, 0.9),
               ("per_input", 0.0, 1.0))


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
    per_input: float = 0.5  # weight of the mean of one head per input; 0: the joint head alone
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in ("linear", "mlp"):
            raise ValueError(f"head kind must be 'linear' or 'mlp', not {self.kind!r}")
        check_loss(self.loss)
        check_ranges("head", self, HEAD_LIMITS)

    def to_json(self) -> dict:
        return asdict(self)


class HeadModule(LogitsModule):
    """Standardise → (Linear | MLP) → sigmoid. ``logits`` is the trainable path."""

    # buffers: the training inputs' statistics
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, in_dim: int, n_out: int, config: HeadConfig):
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        layers: list[nn.Module] = [ByteDropout(config.input_dropout)]
        if config.kind == "linear":
            layers.append(nn.Linear(in_dim, n_out))
        else:
            layers += [
                nn.Linear(in_dim, config.hidden),
                nn.BatchNorm1d(config.hidden),
                nn.GELU(),
                ByteDropout(config.dropout),
                nn.Linear(config.hidden, n_out),
            ]
        self.net = nn.Sequential(*layers)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


class HeadClassifier:
    """A head over ``inputs`` (concatenated in that order), trained by ``fit_loop``; with
    several inputs and ``per_input`` > 0, blended with the mean of one head per input.
    ``history`` and ``best_epoch`` are the joint head's."""

    def __init__(self, inputs: list[str], config: HeadConfig | None = None):
        self.inputs = list(inputs)
        self.config = config or HeadConfig()
        self.module: HeadModule | None = None
        self.history: list[dict] = []
        self.best_epoch: int = 0
        alone = replace(self.config, per_input=0.0)
        self.singles = [HeadClassifier([n], alone) for n in self.inputs] \
            if len(self.inputs) > 1 and self.config.per_input > 0 else []

    def features(self, inputs: Inputs) -> np.ndarray:
        return np.concatenate([inputs[name] for name in self.inputs], axis=1, dtype=np.float32)

    def fit(self, inputs: Inputs, y: np.ndarray, val_inputs: Inputs | None = None,
            val_y: np.ndarray | None = None, epochs: int | None = None) -> HeadClassifier:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        x = torch.from_numpy(self.features(inputs))
        module = HeadModule(x.shape[1], y.shape[1], cfg)
        module.mean.copy_(x.mean(0))
        var = x.var(0)
        module.std.copy_(column_scale(var))
        self.module = module
        validate = None
        if val_inputs is not None and val_y is not None:
            val_x = self.features(val_inputs)
            validate = lambda: macro_ap(val_y, self._predict(val_x))  # noqa: E731
        result = fit_loop(
            module,
            torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay),
            lambda rows: x[torch.from_numpy(rows)],
            y,
            loss=cfg.loss,
            batch_size=min(cfg.batch_size, max(16, len(x) // 8)),  # small sets: several steps
            epochs=epochs or cfg.max_epochs,
            seed=cfg.seed,
            device=torch.device("cpu"),
            patience=cfg.patience,
            validate=validate,
            bf16=True,
        )
        self.best_epoch, self.history = result.best_epoch, result.history
        for single in self.singles:
            single.fit(inputs, y, val_inputs, val_y, epochs)
        return self

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return predict_batches(fitted(self.module), x, torch.from_numpy, 4096)

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        p = self._predict(self.features(inputs))
        if not self.singles:
            return p
        w = self.config.per_input
        alone = np.mean([s.predict_proba(inputs) for s in self.singles], axis=0)
        return ((1 - w) * p + w * alone).astype(np.float32)

    def graph_module(self) -> nn.Module:
        joint = ConcatInputs(self.inputs, fitted(self.module))
        if not self.singles:
            return joint
        return PerInputBlend(joint, [s.graph_module() for s in self.singles],
                             self.config.per_input)


class ConcatInputs(nn.Module):
    """``{name: tensor}`` -> the named tensors concatenated (in order) -> ``net``."""

    def __init__(self, names: list[str], net: nn.Module):
        super().__init__()
        self.names, self.net = list(names), net

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(torch.cat([inputs[name] for name in self.names], dim=1))


class PerInputBlend(nn.Module):
    """``{name: tensor}`` -> ``(1 - weight) * joint + weight * mean(singles)``."""

    def __init__(self, joint: nn.Module, singles: list[nn.Module], weight: float):
        super().__init__()
        self.joint, self.singles, self.weight = joint, nn.ModuleList(singles), float(weight)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        alone = torch.stack([single(inputs) for single in self.singles]).mean(dim=0)
        return (1 - self.weight) * self.joint(inputs) + self.weight * alone


@dataclass(frozen=True)
class HeadSettings(PosterSettings):
    """``head``: frozen backbones' embeddings and the head on them, blended with the
    training posters' vote."""

    head: HeadConfig = field(default_factory=HeadConfig)
    neighbours: NeighbourConfig = field(default_factory=NeighbourConfig)


CHOICE = ModelChoice(
    name="head",
    summary="frozen pretrained backbone(s) + head on cached embeddings",
    settings=HeadSettings,
    inputs=lambda s: s.poster_inputs(),
    make=lambda s, names, seed: blended(HeadClassifier(names, replace(s.head, seed=seed)), s,
                                        names, []),
    describe=lambda s: {"type": "frozen-backbones+head", "backbones": s.backbones,
                        "tta": s.tta, "precision": s.precision, "head": s.head.to_json(),
                        "neighbours": s.neighbours.to_json()},
    label=lambda s: f"{s.backbone_label()} + {s.head.kind} {s.head.loss}",
    default_final="cv-ensemble",  # averaging the fold heads beat one refit (docs/measurements.md)
    spaces={
        "default": SearchSpace(
            "default",
            "head kind and width, dropout, loss, learning rate, weight decay",
            {
                "head.kind": Categorical(("linear", "mlp")),
                "head.hidden": Categorical((512, 1024, 2048)),
                "head.dropout": Float(0.0, 0.7),
                "head.input_dropout": Float(0.0, 0.5),
                "head.loss": Categorical(("bce", "weighted_bce", "focal", "asl")),
                "head.lr": Float(1e-4, 1e-2, log=True),
                "head.weight_decay": Float(1e-6, 1e-2, log=True),
                "head.per_input": Float(0.0, 1.0),
            },
        ),
    },
)

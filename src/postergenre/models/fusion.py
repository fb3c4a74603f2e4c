"""Fusion: one model over the poster and whatever else a movie has (title, year, plot).

Every input is standardised over the rows that have it, multiplied by its presence mask (a
missing plot is exactly zero, not "a plot that looks average"), and the optional inputs'
masks are appended, so the network knows what it was given. In training, modality dropout
hides optional inputs at random (each with ``drop``, all of them with ``poster_only``), so
one model serves a bare poster, a poster with a title, or everything. The same estimator
with other inputs is the text-only and metadata-only model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..features.inputs import Inputs
from ..features.sources import embedding_source, text_source, year_source
from .base import ModelChoice, fitted, macro_ap
from .loop import fit_loop
from .losses import LOSSES
from .space import Categorical, Float, SearchSpace, check_ranges

OPTIONAL = ("title", "year", "plot")
FUSION_LIMITS = (("hidden", 1, 16_384), ("batch_size", 1, 65_536), ("max_epochs", 1, 10_000),
                 ("patience", 1, 1_000), ("seed", 0, 2**32 - 1), ("lr", 1e-7, 1.0),
                 ("weight_decay", 0.0, 1.0), ("dropout", 0.0, 0.9), ("input_dropout", 0.0, 0.9),
                 ("drop", 0.0, 0.9), ("poster_only", 0.0, 0.9))


@dataclass
class FusionConfig:
    inputs: list[str] = field(default_factory=lambda: ["poster", *OPTIONAL])
    hidden: int = 1024
    dropout: float = 0.5
    input_dropout: float = 0.2
    drop: float = 0.25  # each optional input hidden with this probability in training
    poster_only: float = 0.2  # every optional input hidden at once
    loss: str = "asl"
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 512
    max_epochs: int = 20
    patience: int = 3
    seed: int = 0

    def __post_init__(self):
        unknown = set(self.inputs) - {"poster", *OPTIONAL}
        if unknown or not self.inputs:
            raise ValueError(f"fusion inputs must be among poster, {', '.join(OPTIONAL)}; "
                             f"not {sorted(unknown) or self.inputs}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, not {self.loss!r}")
        check_ranges("fusion", self, FUSION_LIMITS)

    def to_json(self) -> dict:
        return asdict(self)


class FusionModule(nn.Module):
    """``{"x": concatenated inputs, "m": (N, inputs) presence}`` -> logits."""

    def __init__(self, widths: list[int], optional: list[bool], n_out: int, c: FusionConfig):
        super().__init__()
        column_input = np.repeat(np.arange(len(widths)), widths)
        self.register_buffer("column_input", torch.from_numpy(column_input))
        self.register_buffer("optional", torch.tensor(np.flatnonzero(optional), dtype=torch.long))
        self.register_buffer("mean", torch.zeros(int(sum(widths))))
        self.register_buffer("std", torch.ones(int(sum(widths))))
        self.net = nn.Sequential(
            nn.Dropout(c.input_dropout), nn.Linear(int(sum(widths)) + int(sum(optional)), c.hidden),
            nn.BatchNorm1d(c.hidden), nn.GELU(), nn.Dropout(c.dropout), nn.Linear(c.hidden, n_out))

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        m = batch["m"]
        x = (batch["x"] - self.mean) / self.std * m[:, self.column_input]
        return self.net(torch.cat([x, m[:, self.optional]], dim=1))


class FusionClassifier:
    """The fusion model on named inputs; ``optional[i]``: input i may be missing."""

    def __init__(self, inputs: list[str], optional: list[bool], config: FusionConfig | None = None):
        self.inputs, self.optional = list(inputs), list(optional)
        self.config = config or FusionConfig()
        self.module: FusionModule | None = None
        self.history: list[dict] = []
        self.best_epoch = 0

    def arrays(self, inputs: Inputs) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.concatenate([inputs[n].reshape(len(inputs), -1) for n in self.inputs], axis=1,
                           dtype=np.float32)
        m = np.stack([inputs.masks[n] for n in self.inputs], axis=1).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(m)

    def fit(self, inputs: Inputs, y: np.ndarray, val_inputs: Inputs | None = None,
            val_y: np.ndarray | None = None, epochs: int | None = None) -> FusionClassifier:
        c = self.config
        torch.manual_seed(c.seed)
        x, m = self.arrays(inputs)
        widths = [int(np.prod(inputs[n].shape[1:])) for n in self.inputs]
        module = FusionModule(widths, self.optional, y.shape[1], c)
        present = m[:, module.column_input] > 0  # standardise each input over its rows
        count = present.sum(0).clamp(min=1)
        mean = (x * present).sum(0) / count
        var = (((x - mean) * present) ** 2).sum(0) / count
        module.mean.copy_(mean)
        module.std.copy_((var + 0.1 * var.mean() + 1e-8).sqrt())
        self.module = module
        rng = np.random.default_rng(c.seed + 1)
        hide = torch.tensor(self.optional, dtype=torch.bool)

        def batch(rows: np.ndarray) -> dict[str, torch.Tensor]:
            keep = torch.from_numpy(rng.random((len(rows), len(self.inputs))) >= c.drop)
            keep &= torch.from_numpy(rng.random((len(rows), 1)) >= c.poster_only)
            keep |= ~hide  # required inputs are never hidden
            idx = torch.from_numpy(rows)
            return {"x": x[idx], "m": m[idx] * keep}

        validate = None
        if val_inputs is not None and val_y is not None:
            validate = lambda: macro_ap(val_y, self.predict_proba(val_inputs))  # noqa: E731
        result = fit_loop(module, torch.optim.AdamW(module.parameters(), lr=c.lr,
                                                    weight_decay=c.weight_decay),
                          batch, y, loss=c.loss, batch_size=min(c.batch_size, max(16, len(y) // 8)),
                          epochs=epochs or c.max_epochs, seed=c.seed, device=torch.device("cpu"),
                          patience=c.patience, validate=validate)
        self.best_epoch, self.history = result.best_epoch, result.history
        return self

    @torch.no_grad()
    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        module = fitted(self.module).eval()
        x, m = self.arrays(inputs)
        return torch.cat([torch.sigmoid(module.logits({"x": x[i:i + 4096], "m": m[i:i + 4096]}))
                          for i in range(0, len(x), 4096)]).numpy()

    def graph_module(self) -> nn.Module:
        return FusionGraph(self.inputs, self.optional, fitted(self.module))


class FusionGraph(nn.Module):
    """``{name: tensor, name + "?": presence}`` -> probabilities (required inputs: present)."""

    def __init__(self, names: list[str], optional: list[bool], module: FusionModule):
        super().__init__()
        self.names, self.optional, self.module = list(names), list(optional), module

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        first = inputs[self.names[0]]
        x = torch.cat([inputs[n].reshape(first.shape[0], -1) for n in self.names], dim=1)
        ones = torch.ones(first.shape[0])
        m = torch.stack([inputs[n + "?"] if opt else ones
                         for n, opt in zip(self.names, self.optional, strict=True)], dim=1)
        return torch.sigmoid(self.module.logits({"x": x, "m": m}))


def sources(c) -> list:
    """The named inputs of a fusion config: poster embeddings, then title, year, plot."""
    made = {"title": lambda: text_source("title", 32), "plot": lambda: text_source("plot", 256),
            "year": year_source}
    out = [embedding_source(b, c.tta) for b in c.backbones] if "poster" in c.fusion.inputs else []
    return out + [made[name]() for name in OPTIONAL if name in c.fusion.inputs]


def choice(name: str, summary: str, inputs: list[str]) -> ModelChoice:
    """A fusion model choice reading ``inputs`` (unless the config's ``fusion.inputs`` says
    otherwise for the ``fusion`` choice)."""

    def config(c):
        if name != "fusion":
            c.fusion.inputs = list(inputs)
        return c

    def make(c, names):
        required = {s.name: s.required for s in sources(config(c))}
        return FusionClassifier(names, [not required[n] for n in names], c.fusion)

    return ModelChoice(
        name=name,
        summary=summary,
        sources=lambda c: sources(config(c)),
        make=make,
        describe=lambda c: {"type": name, "backbones": c.backbones if "poster" in
                            config(c).fusion.inputs else [], "fusion": c.fusion.to_json()},
        settings=lambda c: f"{'+'.join(config(c).fusion.inputs)}"
                           f" ({'+'.join(c.backbones)}) + mlp {c.fusion.loss}",
        default_final="cv-ensemble",
        spaces={"default": SearchSpace(
            "default", "width, dropout, modality dropout, learning rate",
            {"fusion.hidden": Categorical((512, 1024, 2048)),
             "fusion.dropout": Float(0.2, 0.7), "fusion.drop": Float(0.0, 0.5),
             "fusion.poster_only": Float(0.0, 0.4), "fusion.lr": Float(3e-4, 5e-3, log=True)})},
    )


CHOICES = (
    choice("fusion", "poster embeddings + MiniLM title and plot + year, masks and modality "
           "dropout", ["poster", *OPTIONAL]),
    choice("text", "MiniLM embeddings of title and plot only", ["title", "plot"]),
    choice("metadata", "title, plot and year only (no poster)", ["title", "year", "plot"]),
)

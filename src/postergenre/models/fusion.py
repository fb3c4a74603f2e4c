"""Fusion: one model over the poster and whatever else a movie has (title, year, plot).

The title is a MiniLM embedding, the plot its TF-IDF genre scores (``features.terms``). Every
input is standardised over the rows that have it, multiplied by its presence mask (a
missing plot is exactly zero, not "a plot that looks average"), and the optional inputs'
masks are appended, so the network knows what it was given. In training, modality dropout
hides optional inputs at random (each with ``drop``, all of them with ``poster_only``), so
one model serves a bare poster, a poster with a title, or everything. A movie with none of
the optional inputs is scored by a poster-only head trained beside it (the default head), so
a bare poster gets exactly the poster-only model's answer; a poster given any of them is
blended with the metadata-only model (``companion``). With other inputs, the same
estimator is the text-only and metadata-only model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..features.inputs import Inputs
from ..features.specs import InputSpec, default_input, optional_fields
from .base import Estimator, ModelChoice, column_scale, fitted, macro_ap
from .companion import CompanionBlend
from .dropout import ByteDropout
from .heads import HeadClassifier, HeadConfig
from .loop import LogitsModule, fit_loop
from .neighbours import NeighbourConfig, blended
from .settings import PosterSettings, Settings
from .space import Categorical, Float, SearchSpace, check_loss, check_ranges

OPTIONAL = ("title", "year", "plot")  # what the fusion model reads by default, beside the poster
FUSION_LIMITS = (("hidden", 1, 16_384), ("batch_size", 1, 65_536), ("max_epochs", 1, 10_000),
                 ("patience", 1, 1_000), ("seed", 0, 2**32 - 1), ("lr", 1e-7, 1.0),
                 ("weight_decay", 0.0, 1.0), ("dropout", 0.0, 0.9), ("input_dropout", 0.0, 0.9),
                 ("drop", 0.0, 0.9), ("poster_only", 0.0, 0.9), ("project", 0, 4096),
                 ("companion", 0.0, 1.0))


@dataclass
class FusionConfig:
    inputs: list[str] = field(default_factory=lambda: ["poster", *OPTIONAL])
    hidden: int = 1024
    dropout: float = 0.5
    input_dropout: float = 0.2
    project: int = 512  # > 0: each input first projected to this many dims (its own map)
    drop: float = 0.25  # each optional input hidden with this probability in training
    poster_only: float = 0.0  # every optional input hidden at once (bare posters: fallback)
    companion: float = 0.4  # with a poster: weight of the optional inputs' own model (0: off)
    loss: str = "asl"
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 512
    max_epochs: int = 20
    patience: int = 3
    seed: int = 0

    def __post_init__(self):
        unknown = set(self.inputs) - {"poster", *optional_fields()}
        if unknown or not self.inputs or len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"fusion inputs must be among poster, "
                             f"{', '.join(optional_fields())}, once each; "
                             f"not {sorted(unknown) or self.inputs}")
        check_loss(self.loss)
        check_ranges("fusion", self, FUSION_LIMITS)

    def to_json(self) -> dict:
        return asdict(self)


class FusionModule(LogitsModule):
    """``{"x": concatenated inputs, "m": (N, inputs) presence}`` -> logits."""

    # buffers: each column's input, the optional inputs' indices, the training statistics
    column_input: torch.Tensor
    optional: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, widths: list[int], optional: list[bool], n_out: int, c: FusionConfig):
        super().__init__()
        column_input = np.repeat(np.arange(len(widths)), widths)
        self.register_buffer("column_input", torch.from_numpy(column_input))
        self.register_buffer("optional", torch.tensor(np.flatnonzero(optional), dtype=torch.long))
        self.register_buffer("mean", torch.zeros(int(sum(widths))))
        self.register_buffer("std", torch.ones(int(sum(widths))))
        self.widths = [int(w) for w in widths]
        self.projections = nn.ModuleList(nn.Linear(w, c.project) for w in widths) \
            if c.project else None
        width = c.project * len(widths) if c.project else int(sum(widths))
        self.net = nn.Sequential(
            ByteDropout(c.input_dropout), nn.Linear(width + int(sum(optional)), c.hidden),
            nn.BatchNorm1d(c.hidden), nn.GELU(), ByteDropout(c.dropout), nn.Linear(c.hidden, n_out))

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        m = batch["m"]
        x = (batch["x"] - self.mean) / self.std * m[:, self.column_input]
        if self.projections is not None:  # each input mapped alone, still zero when absent
            x = torch.cat([p(part) * m[:, i:i + 1] for i, (p, part) in enumerate(
                zip(self.projections, torch.split(x, self.widths, dim=1), strict=True))], dim=1)
        return self.net(torch.cat([x, m[:, self.optional]], dim=1))


class FusionClassifier:
    """The fusion model on named inputs; ``optional[i]``: input i may be missing."""

    def __init__(self, inputs: list[str], optional: list[bool], config: FusionConfig | None = None,
                 head: HeadConfig | None = None):
        self.inputs, self.optional = list(inputs), list(optional)
        self.config = config or FusionConfig()
        required = [n for n, opt in zip(self.inputs, self.optional, strict=True) if not opt]
        self.fallback = HeadClassifier(required, head or HeadConfig()) if required else None
        self.module: FusionModule | None = None
        self.history: list[dict] = []
        self.best_epoch = 0

    def arrays(self, inputs: Inputs) -> tuple[torch.Tensor, torch.Tensor]:
        x = np.concatenate([inputs[n].reshape(len(inputs), -1) for n in self.inputs], axis=1,
                           dtype=np.float32)
        m = np.stack([inputs.masks[n] for n in self.inputs], axis=1).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(m)

    @property
    def poster_only(self) -> bool:
        """No optional input (a dataset without metadata): the poster head is the model."""
        return not any(self.optional)

    def fit(self, inputs: Inputs, y: np.ndarray, val_inputs: Inputs | None = None,
            val_y: np.ndarray | None = None, epochs: int | None = None) -> FusionClassifier:
        c = self.config
        if self.fallback is not None:  # first: validation scores bare posters with it
            self.fallback.fit(inputs, y, val_inputs, val_y, epochs)
            if self.poster_only:
                self.best_epoch, self.history = self.fallback.best_epoch, self.fallback.history
                return self
        torch.manual_seed(c.seed)
        x, m = self.arrays(inputs)
        widths = [int(np.prod(inputs[n].shape[1:])) for n in self.inputs]
        module = FusionModule(widths, self.optional, y.shape[1], c)
        present = m[:, module.column_input] > 0  # standardise each input over its rows
        count = present.sum(0).clamp(min=1)
        mean = (x * present).sum(0) / count
        var = (((x - mean) * present) ** 2).sum(0) / count
        module.mean.copy_(mean)
        module.std.copy_(column_scale(var))
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
                          patience=c.patience, validate=validate, bf16=True)
        self.best_epoch, self.history = result.best_epoch, result.history
        return self

    @torch.no_grad()
    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        if self.poster_only:
            return fitted(self.fallback).predict_proba(inputs)
        module = fitted(self.module).eval()
        x, m = self.arrays(inputs)
        p = torch.cat([torch.sigmoid(module.logits({"x": x[i:i + 4096], "m": m[i:i + 4096]}))
                       for i in range(0, len(x), 4096)]).numpy()
        if self.fallback is not None:
            bare = ~np.any(m.numpy()[:, np.flatnonzero(self.optional)] > 0, axis=1)
            if bare.any():
                p[bare] = self.fallback.predict_proba(inputs.take(bare))
        return p

    def graph_module(self) -> nn.Module:
        fallback = self.fallback.graph_module() if self.fallback is not None else None
        if self.poster_only:
            return fitted(fallback)
        return FusionGraph(self.inputs, self.optional, fitted(self.module), fallback)


class FusionGraph(nn.Module):
    """``{name: tensor, name + "?": presence}`` -> probabilities (required inputs: present);
    rows without any optional input take the ``fallback`` graph's answer."""

    def __init__(self, names: list[str], optional: list[bool], module: FusionModule,
                 fallback: nn.Module | None = None):
        super().__init__()
        self.names, self.optional, self.module = list(names), list(optional), module
        self.fallback = fallback

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        first = inputs[self.names[0]]
        x = torch.cat([inputs[n].reshape(first.shape[0], -1) for n in self.names], dim=1)
        ones = torch.ones(first.shape[0])
        m = torch.stack([inputs[n + "?"] if opt else ones
                         for n, opt in zip(self.names, self.optional, strict=True)], dim=1)
        p = torch.sigmoid(self.module.logits({"x": x, "m": m}))
        if self.fallback is None:
            return p
        any_optional = m[:, [i for i, opt in enumerate(self.optional) if opt]].amax(dim=1)
        return torch.where(any_optional[:, None] > 0, p, self.fallback(inputs))


@dataclass(frozen=True)
class FusionSettings(PosterSettings):
    """``fusion``: the poster's backbones, the fused network, the bare-poster head and the
    training posters' vote."""

    fusion: FusionConfig = field(default_factory=FusionConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    neighbours: NeighbourConfig = field(default_factory=NeighbourConfig)


@dataclass(frozen=True)
class TextSettings(Settings):
    """``text``: the fused network on the title and plot alone."""

    fusion: FusionConfig = field(default_factory=lambda: FusionConfig(inputs=["title", "plot"]))

    def __post_init__(self):
        if "poster" in self.fusion.inputs:
            raise ValueError("fusion.inputs: this model reads no poster (use --model fusion)")


@dataclass(frozen=True)
class MetadataSettings(TextSettings):
    """``metadata``: the fused network on the title, year and plot (no poster)."""

    fusion: FusionConfig = field(default_factory=lambda: FusionConfig(inputs=["title", "year",
                                                                              "plot"]))


def specs(s: FusionSettings | TextSettings) -> list[InputSpec]:
    """The named inputs the settings read: poster embeddings, then each optional field's
    input in the order of the registry."""
    poster = s.poster_inputs() if isinstance(s, FusionSettings) and "poster" in \
        s.fusion.inputs else []
    return [*poster, *(default_input(n) for n in optional_fields() if n in s.fusion.inputs)]


def _make(s: FusionSettings | TextSettings, names: list[str], seed: int) -> Estimator:
    required = {spec.name: spec.required for spec in specs(s)}
    head = replace(s.head, seed=seed) if isinstance(s, FusionSettings) else None
    model: Estimator = FusionClassifier(names, [not required[n] for n in names],
                                        replace(s.fusion, seed=seed), head)
    optional = [n for n in names if not required[n]]
    if not isinstance(s, FusionSettings):
        return model
    if optional and len(optional) < len(names) and s.fusion.companion > 0:
        companion = FusionClassifier(optional, [True] * len(optional), replace(
            s.fusion, inputs=[n for n in s.fusion.inputs if n != "poster"], seed=seed))
        model = CompanionBlend(model, companion, optional, s.fusion.companion)
    return blended(model, s, names, optional)


def _label(s: FusionSettings | TextSettings) -> str:
    poster = f" ({s.backbone_label()})" if isinstance(s, FusionSettings) else ""
    return f"{'+'.join(s.fusion.inputs)}{poster} + mlp {s.fusion.loss}"


def choice(name: str, summary: str, settings: type[FusionSettings | TextSettings]
           ) -> ModelChoice:
    """A fused model choice: its settings say which inputs it reads."""
    return ModelChoice(
        name=name,
        summary=summary,
        settings=settings,
        inputs=specs,
        make=_make,
        describe=lambda s: {"type": name, "backbones": s.backbones if isinstance(
            s, FusionSettings) and "poster" in s.fusion.inputs else [],
                            "precision": getattr(s, "precision", None),
                            "fusion": s.fusion.to_json(),
                            **({"neighbours": s.neighbours.to_json()}
                               if isinstance(s, FusionSettings) else {})},
        label=_label,
        default_final="cv-ensemble",
        spaces={"default": SearchSpace(
            "default", "width, dropout, modality dropout, learning rate",
            {"fusion.hidden": Categorical((512, 1024, 2048)),
             "fusion.dropout": Float(0.2, 0.7), "fusion.drop": Float(0.0, 0.5),
             "fusion.poster_only": Float(0.0, 0.4), "fusion.lr": Float(3e-4, 5e-3, log=True)})},
    )


CHOICES = (
    choice("fusion", "poster embeddings + MiniLM title + plot TF-IDF scores + year, masks and "
           "modality dropout", FusionSettings),
    choice("text", "MiniLM title and plot TF-IDF scores only", TextSettings),
    choice("metadata", "title, plot and year only (no poster)", MetadataSettings),
)

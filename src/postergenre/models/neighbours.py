"""Neighbours: a model's probabilities blended with a vote of the most similar training posters.

Posters are compared by the backbone embeddings the model reads: each backbone's
L2-normalised, concatenated, reduced by PCA (fitted on the training rows) to ``dims`` and
normalised again; similarity is the cosine. The vote gives each genre its share among the
``k`` most similar training posters (all of them with ``k = 0``), weighted by
``softmax(similarity / tau)``. The blend is ``(1 - w) * model + w * vote``, with ``w =
bare`` for a bare poster and ``w = given`` for a poster given with any optional input. The
weights are settings, fixed for every fold, so the out-of-fold scores that calibration and
the decision rules are fitted on are made as the final model's are (weights chosen per fold
were not: docs/measurements.md). The fold models merge into one (``merge``): their models
averaged, the vote over every training poster.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.decomposition import PCA
from torch import nn

from ..features.inputs import Inputs
from .base import Estimator, Wrapper, fitted, given_in_graph, given_rows
from .ensemble import FoldEnsemble
from .space import check_ranges

if TYPE_CHECKING:
    from .fusion import FusionSettings
    from .heads import HeadSettings

NEIGHBOUR_LIMITS = (("k", 0, 100_000), ("tau", 1e-4, 10.0), ("dims", 1, 100_000),
                    ("bare", 0.0, 1.0), ("given", 0.0, 1.0))
# the defaults: chosen by 5-fold CV macro mAP on the shared posters' training part
# (benchmarks/bench_neighbours.py; ``bare`` again beside the per-input heads, docs/
# measurements.md); the fused model's gain with metadata was below +0.005


@dataclass
class NeighbourConfig:
    enabled: bool = True
    k: int = 100  # the most similar posters that vote; 0: every training poster
    tau: float = 0.05  # softmax temperature over cosine similarities
    dims: int = 256  # PCA dimensions the posters are compared in
    bare: float = 0.15  # the vote's weight for a bare poster
    given: float = 0.0  # and for a poster given with a title, year or plot

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            raise ValueError(f"neighbours.enabled must be true or false, not {self.enabled!r}")
        check_ranges("neighbours", self, NEIGHBOUR_LIMITS)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Pool:
    """The voting posters: the reduction that compares them and their labels."""

    mean: np.ndarray  # (D,) of the joined embeddings
    components: np.ndarray  # (D, d)
    vectors: np.ndarray  # (N, d), unit rows
    labels: np.ndarray  # (N, genres) in {0, 1}

    @classmethod
    def fit(cls, joined: np.ndarray, y: np.ndarray, dims: int) -> Pool:
        pca = PCA(n_components=min(dims, *joined.shape), random_state=0).fit(joined)
        mean, components = pca.mean_.astype(np.float32), pca.components_.T.astype(np.float32)
        return cls(mean, components, _unit((joined - mean) @ components), y.astype(np.float32))

    def reduce(self, joined: np.ndarray) -> np.ndarray:
        return _unit((joined - self.mean) @ self.components)

    def vote(self, joined: np.ndarray, k: int, tau: float) -> np.ndarray:
        """Each genre's weighted share among each row's nearest voting posters (computed as
        the graph computes it)."""
        z = torch.from_numpy(self.reduce(joined))
        vectors, labels = torch.from_numpy(self.vectors), torch.from_numpy(self.labels)
        k = k if 0 < k < len(self.vectors) else 0
        with torch.no_grad():
            return torch.cat([_vote(z[a:a + 2048], vectors, labels, k, tau)
                              for a in range(0, len(z), 2048)]).numpy()


def _vote(z: torch.Tensor, vectors: torch.Tensor, labels: torch.Tensor, k: int, tau: float
          ) -> torch.Tensor:
    """The vote of unit rows ``z`` among ``vectors`` (the ``k`` nearest; every one with 0)."""
    s = z @ vectors.T
    if k:
        top, index = torch.topk(s, k, dim=1)
        return (torch.softmax(top / tau, dim=1)[:, :, None] * labels[index]).sum(dim=1)
    return torch.softmax(s / tau, dim=1) @ labels


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class NeighbourBlend(Wrapper):
    """``model``'s probabilities blended with the vote; ``embeddings``: the backbone inputs
    posters are compared by; ``optional``: the inputs whose presence makes a poster given
    rather than bare."""

    def __init__(self, model: Estimator, embeddings: list[str], optional: list[str],
                 config: NeighbourConfig):
        self.model, self.embeddings, self.optional = model, list(embeddings), list(optional)
        self.config = config
        self.inputs = model.inputs
        self.pool: Pool | None = None

    def joined(self, inputs: Inputs) -> np.ndarray:
        """Each backbone's embedding normalised, side by side, normalised again."""
        return _unit(np.concatenate([_unit(inputs[n].reshape(len(inputs), -1))
                                     for n in self.embeddings], axis=1))

    def fit(self, inputs: Inputs, y: np.ndarray, val_inputs: Inputs | None = None,
            val_y: np.ndarray | None = None, epochs: int | None = None) -> NeighbourBlend:
        self.model.fit(inputs, y, val_inputs, val_y, epochs)
        self.pool = Pool.fit(self.joined(inputs), y, self.config.dims)
        return self

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        pool = fitted(self.pool)
        p = self.model.predict_proba(inputs)
        vote = pool.vote(self.joined(inputs), self.config.k, self.config.tau)
        given = given_rows(inputs, self.optional)
        w = np.where(given, self.config.given, self.config.bare)[:, None]
        return ((1 - w) * p + w * vote).astype(np.float32)

    def graph_module(self) -> nn.Module:
        c = self.config
        return NeighbourGraph(self.model.graph_module(), self.embeddings, self.optional,
                              fitted(self.pool), c.k, c.tau, (c.bare, c.given))

    @classmethod
    def merge(cls, members: list[NeighbourBlend], inputs: Inputs, y: np.ndarray
              ) -> NeighbourBlend:
        """The fold models as one: their models averaged, the vote over ``inputs`` (every
        training poster)."""
        first = members[0]
        blend = cls(FoldEnsemble([m.model for m in members]), first.embeddings,
                    first.optional, first.config)
        blend.pool = Pool.fit(blend.joined(inputs), y, first.config.dims)
        return blend


class NeighbourGraph(nn.Module):
    """``{name: tensor}`` -> the model graph's probabilities blended with the vote."""

    # buffers: the reduction, the voting posters and their labels
    mean: torch.Tensor
    components: torch.Tensor
    vectors: torch.Tensor
    labels: torch.Tensor

    def __init__(self, model: nn.Module, embeddings: list[str], optional: list[str],
                 pool: Pool, k: int, tau: float, weights: tuple[float, float]):
        super().__init__()
        self.model, self.embeddings, self.optional = model, list(embeddings), list(optional)
        for name in ("mean", "components", "vectors", "labels"):
            self.register_buffer(name, torch.from_numpy(np.ascontiguousarray(
                getattr(pool, name), np.float32)))
        self.k = k if 0 < k < len(pool.vectors) else 0
        self.tau, self.weights = float(tau), (float(weights[0]), float(weights[1]))

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        p = self.model(inputs)
        joined = _unit_t(torch.cat([_unit_t(inputs[n].reshape(p.shape[0], -1))
                                    for n in self.embeddings], dim=1))
        vote = _vote(_unit_t((joined - self.mean) @ self.components), self.vectors,
                     self.labels, self.k, self.tau)
        w = torch.full_like(p[:, :1], self.weights[0])
        if self.optional:
            given = given_in_graph(inputs, self.optional)
            w = torch.where(given[:, None] > 0, self.weights[1], w)
        return (1 - w) * p + w * vote


def _unit_t(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)


def blended(model: Estimator, settings: HeadSettings | FusionSettings, names: list[str],
            optional: list[str]) -> Estimator:
    """``model`` with the vote of ``settings.neighbours`` blended in, by the poster
    embeddings among ``names`` (``optional``: the inputs whose presence makes a poster
    given, not bare); ``model`` itself when disabled or without embeddings."""
    config = settings.neighbours
    embeddings = [s.name for s in settings.poster_inputs() if s.name in names]
    if not config.enabled or not embeddings:
        return model
    return NeighbourBlend(model, embeddings, optional, config)

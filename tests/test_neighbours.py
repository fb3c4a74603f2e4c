"""The neighbours' vote: what it computes, the weights the validation fold chooses, its graph
and the fold models merged into one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from postergenre.features.inputs import Inputs
from postergenre.models.base import macro_ap
from postergenre.models.ensemble import FoldEnsemble, ensemble
from postergenre.models.fusion import FusionSettings
from postergenre.models.neighbours import NeighbourBlend, NeighbourConfig, Pool
from postergenre.models.registry import get_model

GENRES = 3


class Prior:
    """An estimator that knows nothing: every row gets the training genre rates."""

    def __init__(self, inputs: list[str]):
        self.inputs, self.history, self.best_epoch, self.rate = list(inputs), [], 0, None

    def fit(self, inputs, y, val_inputs=None, val_y=None, epochs=None):
        self.rate = y.mean(0).astype(np.float32)
        return self

    def predict_proba(self, inputs):
        return np.tile(self.rate, (len(inputs), 1))

    def graph_module(self):
        rate = torch.from_numpy(self.rate)

        class Graph(torch.nn.Module):
            def forward(self, inputs):
                return rate.expand(inputs["a"].shape[0], -1)

        return Graph()


def clustered(n: int, seed: int) -> tuple[Inputs, np.ndarray]:
    """Two embeddings ("a", "b") of posters in three clusters, a cluster's genre its label;
    an optional "title" present on every other row."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, GENRES, n)
    centres = rng.normal(size=(GENRES, 24)) * 3
    a = centres[label] + rng.normal(size=(n, 24))
    b = centres[label][:, ::-1] + rng.normal(size=(n, 24))
    y = np.eye(GENRES, dtype=np.uint8)[label]
    title = np.arange(n) % 2 == 0
    inputs = Inputs({"a": a.astype(np.float32), "b": b.astype(np.float32),
                     "title": np.zeros((n, 2), np.float32)},
                    {"a": np.ones(n, bool), "b": np.ones(n, bool), "title": title})
    return inputs, y


def blend(config: NeighbourConfig | None = None) -> NeighbourBlend:
    return NeighbourBlend(Prior(["a", "b", "title"]), ["a", "b"], ["title"],
                          config or NeighbourConfig(dims=8, k=10))


def test_vote_is_the_softmax_weighted_share_of_the_nearest_posters():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = (rng.random((40, GENRES)) < 0.4).astype(np.float32)
    pool = Pool.fit(x[:30], y[:30], dims=6)
    got = pool.vote(x[30:], k=5, tau=0.1)
    z = pool.reduce(x[30:])
    for i in range(10):
        s = pool.vectors @ z[i]
        top = np.argsort(-s)[:5]
        w = np.exp(s[top] / 0.1) / np.exp(s[top] / 0.1).sum()
        np.testing.assert_allclose(got[i], w @ y[top], rtol=1e-5, atol=1e-6)
    everyone = pool.vote(x[30:], k=0, tau=0.1)  # k = 0: every pool poster votes
    s = z @ pool.vectors.T
    w = np.exp(s / 0.1) / np.exp(s / 0.1).sum(1, keepdims=True)
    np.testing.assert_allclose(everyone, w @ y[:30], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(pool.vectors, axis=1), 1, atol=1e-5)


def test_the_blend_ranks_better_and_only_training_rows_vote():
    inputs, y = clustered(300, seed=1)
    fit, val, test = np.arange(0, 150), np.arange(150, 220), np.arange(220, 300)
    model = blend().fit(inputs.take(fit), y[fit], inputs.take(val), y[val])
    alone = model.model.predict_proba(inputs.take(test))  # the prior ranks nothing
    both = model.predict_proba(inputs.take(test))
    assert macro_ap(y[test], both) > macro_ap(y[test], alone) + 0.3
    pool = fitted_pool(model)  # the training rows vote, never the validation fold's (each
    np.testing.assert_allclose(pool.vectors, pool.reduce(model.joined(inputs.take(fit))),
                               atol=1e-6)  # of its posters would find itself)


def fitted_pool(model: NeighbourBlend) -> Pool:
    assert model.pool is not None
    return model.pool


def test_bare_and_given_posters_get_their_own_weight():
    inputs, y = clustered(200, seed=2)
    model = blend(NeighbourConfig(dims=8, k=10, bare=0.4, given=0.1)).fit(
        inputs.take(np.arange(150)), y[:150])
    rows = inputs.take(np.arange(150, 200))
    vote = fitted_pool(model).vote(model.joined(rows), 10, 0.05)
    prior = model.model.predict_proba(rows)
    w = np.where(rows.masks["title"], 0.1, 0.4)[:, None]
    np.testing.assert_allclose(model.predict_proba(rows), (1 - w) * prior + w * vote,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k", [10, 0])
def test_graph_gives_what_predict_proba_gives(k):
    inputs, y = clustered(200, seed=3)
    model = blend(NeighbourConfig(dims=8, k=k, given=0.2)).fit(inputs.take(np.arange(100)), y[:100],
                                                    inputs.take(np.arange(100, 150)),
                                                    y[100:150])
    rows = inputs.take(np.arange(150, 200))
    feeds = {n: torch.from_numpy(rows[n]) for n in rows.names}
    feeds["title?"] = torch.from_numpy(rows.masks["title"].astype(np.float32))
    with torch.no_grad():
        got = model.graph_module()(feeds).numpy()
    np.testing.assert_allclose(got, model.predict_proba(rows), rtol=1e-4, atol=1e-5)


def test_fold_models_merge_into_one_vote_over_every_training_poster():
    inputs, y = clustered(240, seed=4)
    members = []
    for k in range(3):
        rows = np.arange(240) % 3
        members.append(blend().fit(inputs.take(rows != k), y[rows != k],
                                   inputs.take(rows == k), y[rows == k]))
    merged = ensemble(members, inputs, y)
    assert isinstance(merged, NeighbourBlend) and isinstance(merged.model, FoldEnsemble)
    assert len(fitted_pool(merged).vectors) == 240
    rows = inputs.take(np.arange(0, 240, 7))
    mean = np.mean([m.model.predict_proba(rows) for m in members], axis=0)
    vote = fitted_pool(merged).vote(merged.joined(rows), 10, 0.05)
    w = np.where(rows.masks["title"], 0.0, NeighbourConfig().bare)[:, None]
    np.testing.assert_allclose(merged.predict_proba(rows), (1 - w) * mean + w * vote,
                               rtol=1e-5, atol=1e-6)
    plain = [Prior(["a"]).fit(inputs, y) for _ in range(2)]
    assert isinstance(ensemble(plain, inputs, y), FoldEnsemble)  # no merge of their own


def test_settings_switch_the_vote_and_check_their_values():
    choice = get_model("fusion")
    names = [s.name for s in choice.inputs(FusionSettings())]
    assert isinstance(choice.make(FusionSettings(), names, 0), NeighbourBlend)
    off = FusionSettings.from_json({"neighbours": {"enabled": False}}, "fusion")
    assert not isinstance(choice.make(off, names, 0), NeighbourBlend)
    for bad in ({"k": -1}, {"tau": 0.0}, {"bare": 1.5}, {"given": -0.1}, {"enabled": "yes"}):
        with pytest.raises(ValueError, match="neighbours"):
            FusionSettings.from_json({"neighbours": bad}, "fusion")

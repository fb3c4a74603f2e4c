"""The fused model's companion: the metadata-only model blended in where a title, year or
plot is given; bare posters keep the model's answer; the graph computes the same."""

from __future__ import annotations

import numpy as np
import torch

from postergenre.features.inputs import Inputs
from postergenre.models.companion import CompanionBlend
from postergenre.models.fusion import FusionClassifier, FusionConfig, FusionSettings
from postergenre.models.neighbours import NeighbourBlend
from postergenre.models.registry import get_model


def movies(n: int, seed: int) -> tuple[Inputs, np.ndarray]:
    """A poster embedding that hints at the genre, a title that tells it, on two rows in three."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 3, n)
    y = np.eye(3, dtype=np.uint8)[label]
    poster = y * 0.5 + rng.normal(size=(n, 3))
    title = y * 2.0 + rng.normal(size=(n, 3)) * 0.3
    given = np.arange(n) % 3 != 0
    return Inputs({"poster": poster.astype(np.float32), "title": title.astype(np.float32)},
                  {"poster": np.ones(n, bool), "title": given}), y


def test_given_rows_blend_the_companion_and_bare_rows_do_not():
    inputs, y = movies(240, seed=0)
    config = FusionConfig(inputs=["poster", "title"], hidden=16, project=0, max_epochs=4)
    model = FusionClassifier(["poster", "title"], [False, True], config)
    companion = FusionClassifier(["title"], [True], FusionConfig(inputs=["title"], hidden=16,
                                                                 project=0, max_epochs=4))
    blend = CompanionBlend(model, companion, ["title"], 0.4).fit(inputs, y)
    given = inputs.masks["title"]
    p = blend.predict_proba(inputs)
    mine, other = model.predict_proba(inputs), companion.predict_proba(inputs)
    np.testing.assert_allclose(p[~given], mine[~given], atol=1e-6)
    np.testing.assert_allclose(p[given], 0.6 * mine[given] + 0.4 * other[given], atol=1e-6)
    assert not np.allclose(p[given], mine[given], atol=1e-3)
    feed = {n: torch.from_numpy(inputs[n]) for n in ("poster", "title")}
    feed["title?"] = torch.from_numpy(given.astype(np.float32))
    with torch.no_grad():
        graph = blend.graph_module().eval()(feed).numpy()
    np.testing.assert_allclose(graph, p, atol=1e-5)


def test_the_default_fused_model_has_a_companion_and_zero_turns_it_off():
    choice = get_model("fusion")
    names = [s.name for s in choice.inputs(FusionSettings())]
    made = choice.make(FusionSettings(), names, 0)
    assert isinstance(made, NeighbourBlend) and isinstance(made.model, CompanionBlend)
    companion = made.model.companion
    assert isinstance(companion, FusionClassifier) and "poster" not in companion.config.inputs
    assert set(companion.inputs) == set(made.model.optional) and companion.fallback is None
    off = FusionSettings.from_json({"fusion": {"companion": 0.0}}, "fusion")
    assert not isinstance(choice.make(off, names, 0).model, CompanionBlend)
    assert not isinstance(get_model("metadata").make(
        get_model("metadata").settings(), ["title:minilm"], 0), CompanionBlend)

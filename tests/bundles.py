"""A small real model bundle, built in well under a second without any backbone.

The graph is the production one (``BundleGraph``: canvas pixels -> ``Pixels`` resize ->
a model's ``OneInput`` module) exported by ``export_graph`` and written by ``write_bundle``;
only the model is a hand-set toy: the mean colour of the 24x24 resized poster, so that a red
poster is most probably ``RED_GENRE``, a green one ``GENRES[1]`` and a blue one ``GENRES[2]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from postergenre.bundle.graph import OUTPUT, BundleGraph
from postergenre.bundle.io import write_bundle
from postergenre.evaluation.rules import DecisionRules
from postergenre.evaluation.thresholds import DecisionRule
from postergenre.features.onnx_export import canvas_example, export_graph
from postergenre.features.specs import InputSpec, Pixels
from postergenre.features.specs.poster import POSTER
from postergenre.models.on_pixels import OneInput

GENRES = ["Horror", "Drama", "Comedy"]  # red, green, blue channel: the genre the colour says
PIXELS_HW = (24, 24)


class MeanColour(nn.Module):
    """``logits``: each channel's mean in [0, 255], centred and scaled; channel c -> genre c."""

    def __init__(self, n_genres: int = len(GENRES)):
        super().__init__()
        self.linear = nn.Linear(3, n_genres)
        with torch.no_grad():
            weight = torch.zeros(n_genres, 3)
            for g in range(n_genres):
                weight[g, g % 3] = 8.0 / 255
            self.linear.weight.copy_(weight)
            self.linear.bias.fill_(-4.0)

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.linear(pixels.mean(dim=(2, 3)))


def declaration(sources: list[InputSpec]) -> dict:
    """The ``inputs[]`` entry training writes for the poster field (``training.job._declare``)."""
    return {"name": "poster", "type": POSTER.type, "required": any(s.required for s in sources),
            "preprocessing": {**POSTER.preprocessing,
                              "inputs": {s.name: s.describe(None) for s in sources}}}


def export_toy_graph(path: Path, n_genres: int = len(GENRES)) -> Path:
    source = Pixels(PIXELS_HW)
    graph = BundleGraph(["poster"], [source], {source.name: None},
                        OneInput(source.name, MeanColour(n_genres)))
    return export_graph(graph, path, {"poster": canvas_example}, output_names=(OUTPUT,))


def build_bundle(out: Path, rule: DecisionRule | None = None,
                 genres: list[str] | None = None, info: dict | None = None) -> Path:
    """A real format-3 bundle at ``out`` (a fresh folder); the graph file is made beside it.
    ``info``: more of ``bundle.json`` (``data``: the dataset and split it was trained on)."""
    genres = list(genres or GENRES)
    rule = rule or DecisionRule(np.full(len(genres), 0.5, np.float32), None, True)
    graph_file = export_toy_graph(out.parent / f"{out.name}-graph.onnx", len(genres))
    write_bundle(out, graph_file, genres, DecisionRules.uncalibrated(rule, len(genres)),
                 [declaration([Pixels(PIXELS_HW)])],
                 info={"model": {"name": "mean-colour toy"}, **(info or {})})
    graph_file.unlink()
    return out


def read_doc(bundle: Path) -> dict:
    return json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))


def write_doc(bundle: Path, doc: dict) -> None:
    (bundle / "bundle.json").write_text(json.dumps(doc), encoding="utf-8")


def poster(colour: tuple[int, int, int], size: tuple[int, int] = (40, 60),
           seed: int = 0) -> np.ndarray:
    """An (H, W, 3) uint8 poster of one colour with a little noise."""
    rng = np.random.default_rng(seed)
    arr = np.array(colour, float)[None, None, :] + rng.normal(0, 6, (size[1], size[0], 3))
    return np.clip(arr, 0, 255).astype(np.uint8)

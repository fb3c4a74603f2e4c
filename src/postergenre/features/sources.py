"""Model inputs made from record fields: how each is made for training and inside the graph.

A source is one named model input, e.g. ``poster:efficientnet_lite0`` (the poster's
Lite0 embedding) or ``poster:pixels-200x200``. It says which record field it comes from,
the cached producer that makes it for training (once per content), the torch module that
makes the same thing from the field's graph input inside the bundle graph, and what the
bundle records about its preprocessing (resolution, mean/std, ...).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .backbones import BackboneFeatures, resolve
from .canvas import CANVAS_HW
from .embeddings import embedding_producer
from .pixels import pixel_producer, resize_like_graph
from .producer import Producer

PathLike = str | os.PathLike


@dataclass(frozen=True)
class Source:
    name: str
    field: str  # the record field it is made from
    producer: Callable[[PathLike | None], Producer]  # cache dir -> cached producer
    graph_module: Callable[[], nn.Module]  # the field's graph input -> this input
    preprocessing: dict
    required: bool = True  # a movie without it cannot be scored by a model that reads it


class Embedding(nn.Module):
    """Canvas pixels -> a backbone's embedding, averaged with the mirror image's if ``tta``."""

    def __init__(self, backbone: str, tta: bool):
        super().__init__()
        self.backbone, self.tta = BackboneFeatures(backbone), tta

    def forward(self, pixels):
        emb = self.backbone(pixels)
        if self.tta:
            emb = (emb + self.backbone(pixels.flip(dims=[3]))) / 2
        return emb


class Resize(nn.Module):
    """Canvas pixels -> pixels at ``hw`` (the resize the pixel cache used)."""

    def __init__(self, hw: tuple[int, int]):
        super().__init__()
        self.hw = (int(hw[0]), int(hw[1]))

    def forward(self, pixels):
        return resize_like_graph(pixels, self.hw)


def embedding_source(backbone: str, tta: bool = False) -> Source:
    spec = resolve(backbone)
    return Source(
        name=f"poster:{spec.name}" + ("+flip" if tta else ""),
        field="poster",
        producer=lambda cache_dir: embedding_producer(spec, cache_dir, tta=tta),
        graph_module=lambda: Embedding(spec.name, tta),
        preprocessing={"backbone": spec.to_dict(), "tta": tta},
    )


def pixel_source(hw: tuple[int, int] = CANVAS_HW) -> Source:
    h, w = int(hw[0]), int(hw[1])
    return Source(
        name=f"poster:pixels-{h}x{w}",
        field="poster",
        producer=lambda cache_dir: pixel_producer((h, w), cache_dir),
        graph_module=lambda: Resize((h, w)),
        preprocessing={"pixels_hw": [h, w], "resize": "bilinear, half-pixel centres"},
    )

"""Model choices: what ``postergenre train --model NAME`` can train.

Each choice says what the model reads (cached backbone ``embeddings`` or cached ``pixels``),
how to make an unfitted estimator from a ``TrainConfig`` (every estimator has ``fit(x, y,
x_val, y_val, epochs)``, ``predict_proba(x)``, ``best_epoch``), how to turn a fitted one into
the bundle's graph (canvas pixels -> probabilities), and which search spaces ``tune`` offers.

    head      frozen pretrained backbone(s), cached embeddings, MLP/linear head (default)
    seed-cnn  the prototype's CNN, trained from scratch on pixels
    finetune  a pretrained backbone with its last blocks trained, on augmented pixels
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from ..features.canvas import CANVAS_HW
from .space import Categorical, Float, SearchSpace
from . import finetune, seed_cnn
from .heads import HeadClassifier
from .pixels import resolve_device


@dataclass(frozen=True)
class ModelChoice:
    name: str
    summary: str
    inputs: Literal["embeddings", "pixels"]
    make: Callable[[Any], Any]  # TrainConfig -> unfitted estimator
    graph: Callable[[Any, Any], nn.Module]  # (fitted estimator, TrainConfig) -> canvas->probs
    describe: Callable[[Any], dict]  # TrainConfig -> the bundle's "model" entry
    in_graph: str  # what the bundle graph does after the canvas
    pixel_hw: Callable[[Any], tuple[int, int]] = lambda c: CANVAS_HW
    device: Callable[[Any], str] = lambda c: "cpu"
    spaces: dict[str, SearchSpace] = field(default_factory=dict)


def _head_graph(est, config) -> nn.Module:
    from ..bundle.fuse import FusedModel

    return FusedModel(config.backbones, est.module, tta=config.tta)


HEAD_SPACES = {
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
        },
    ),
}

MODELS: dict[str, ModelChoice] = {
    "head": ModelChoice(
        name="head",
        summary="frozen pretrained backbone(s) + head on cached embeddings",
        inputs="embeddings",
        make=lambda c: HeadClassifier(c.head),
        graph=_head_graph,
        describe=lambda c: {
            "type": "frozen-backbones+head",
            "backbones": c.backbones,
            "tta": c.tta,
            "head": c.head.to_json(),
        },
        in_graph="resize, normalise, backbone(s), head",
        spaces=HEAD_SPACES,
    ),
    "seed-cnn": ModelChoice(
        name="seed-cnn",
        summary="the prototype's CNN, trained from scratch on pixels",
        inputs="pixels",
        make=lambda c: seed_cnn.SeedCNNClassifier(c.seed_cnn),
        graph=lambda est, c: est.export_module(),
        describe=lambda c: {"type": "seed-cnn", "seed_cnn": c.seed_cnn.to_json()},
        in_graph="resize to image_hw, scale to [0, 1], seed CNN",
        pixel_hw=lambda c: tuple(c.seed_cnn.image_hw),
        device=lambda c: str(resolve_device(c.seed_cnn.device)),
        spaces=seed_cnn.SPACES,
    ),
    "finetune": ModelChoice(
        name="finetune",
        summary="pretrained backbone fine-tuned end to end with a head, augmented pixels",
        inputs="pixels",
        make=lambda c: finetune.FineTuneClassifier(c.finetune, c.head),
        graph=lambda est, c: est.export_module(),
        describe=lambda c: {
            "type": "finetuned-backbone+head",
            "backbones": [c.finetune.backbone],
            "finetune": c.finetune.to_json(),
            "head": c.head.to_json(),
        },
        in_graph="resize, normalise, fine-tuned backbone, head",
        device=lambda c: str(resolve_device(c.finetune.device)),
        spaces=finetune.SPACES,
    ),
}


def get_model(name: str) -> ModelChoice:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]

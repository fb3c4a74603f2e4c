"""The model choices ``train --model NAME`` offers, each declared in its own module.

    head      frozen pretrained backbone(s), cached embeddings, MLP/linear head (default)
    seed-cnn  the prototype's CNN, trained from scratch on pixels
    finetune  a pretrained backbone with its last blocks trained, on augmented pixels

Adding a model: a module with an estimator and its ``CHOICE``, and one entry below.
"""

from __future__ import annotations

from . import finetune, heads, seed_cnn
from .base import ModelChoice

MODELS: dict[str, ModelChoice] = {m.CHOICE.name: m.CHOICE for m in (heads, seed_cnn, finetune)}


def get_model(name: str) -> ModelChoice:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]

"""The model choices ``train --model NAME`` offers, each declared in its own module.

    head      frozen pretrained backbone(s), cached embeddings, MLP/linear head (default)
    seed-cnn  the prototype's CNN, trained from scratch on pixels
    finetune  a pretrained backbone with its last blocks trained, on augmented pixels
    fusion    poster embeddings + title + year + plot, robust to missing inputs
    text      title and plot only;  metadata: title, year and plot (no poster)

Adding a model: a module with an estimator and its ``CHOICE``, and one entry below.
"""

from __future__ import annotations

from . import finetune, fusion, heads, seed_cnn
from .base import ModelChoice

MODELS: dict[str, ModelChoice] = {
    c.name: c for c in (heads.CHOICE, seed_cnn.CHOICE, finetune.CHOICE, *fusion.CHOICES)}


def get_model(name: str) -> ModelChoice:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]

"""The model choices ``train --model NAME`` offers, each declared in its own module.

    head      frozen pretrained backbone(s), cached embeddings, MLP/linear head
    seed-cnn  the prototype's CNN, trained from scratch on pixels
    finetune  a pretrained backbone with its last blocks trained, on augmented pixels
    fusion    poster embeddings + title + year + plot, robust to missing inputs (default)
    text      title and plot only;  metadata: title, year and plot (no poster)

Adding a model: a module with an estimator and its ``CHOICE``, and one entry in ``MODULES``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import ModelChoice

# name -> the module that declares it (``CHOICE``, or several in ``CHOICES``): known without
# importing any model, so the command line starts without torch
MODULES = {"head": "heads", "seed-cnn": "seed_cnn", "finetune": "finetune", "fusion": "fusion",
           "text": "fusion", "metadata": "fusion"}


def get_model(name: str) -> ModelChoice:
    if name not in MODULES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODULES)}")
    module = importlib.import_module(f".{MODULES[name]}", __package__)
    return next(c for c in getattr(module, "CHOICES", ()) or (module.CHOICE,) if c.name == name)


def __getattr__(attr: str):
    if attr == "MODELS":  # every choice, imported on first use
        return {name: get_model(name) for name in MODULES}
    raise AttributeError(attr)

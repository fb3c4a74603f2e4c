"""Model settings: each model choice declares its own, beside its estimator.

A settings class is a frozen dataclass: values are stored as given and checked in
``__post_init__`` (which never changes them). Its sections (``head``, ``fusion``, ...) are the
estimators' own configs. ``from_json`` refuses a key the model does not have, by name, so an
option meant for another model is an error, never silently dropped; a section given in part
keeps the model's defaults for the rest. ``PosterSettings`` is the part every model on frozen
backbone embeddings shares.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Self

from ..features.backbones import resolve
from ..features.quantize import check_precision
from ..features.specs import BackboneEmbedding

DEFAULT_BACKBONES = ("efficientnet_lite0", "mobilenet_v2", "efficientnet_lite2")


class NotForModel(ValueError):
    """A setting the chosen model does not have; ``key`` is its dotted path."""

    def __init__(self, key: str, model: str):
        super().__init__(f"{key} does not apply to model {model!r}")
        self.key = key


@dataclass(frozen=True)
class Settings:
    """The base of every model's settings."""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict, model: str, seed: int = 0) -> Self:
        """Settings from ``to_json``'s output (or part of it: the rest keeps the defaults);
        every section's ``seed`` is the run's ``seed``."""
        if not isinstance(d, dict):
            raise ValueError(f"settings of model {model!r} must be an object")
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise NotForModel(unknown[0], model)
        default = cls()
        values: dict[str, Any] = dict(d)
        for name in names:
            kind = hints[name]
            if not (dataclasses.is_dataclass(kind) and isinstance(kind, type)):
                continue
            value = d.get(name, {})
            if not isinstance(value, dict):
                raise ValueError(f"{name} must be an object")
            section = {f.name for f in dataclasses.fields(kind)}
            extra = sorted(set(value) - section)
            if extra:
                raise NotForModel(f"{name}.{extra[0]}", model)
            if "seed" in value and value["seed"] != seed:
                raise ValueError(f"{name}.seed {value['seed']!r}: the run's seed ({seed}) seeds "
                                 "every model; set seed instead")
            values[name] = kind(**{**dataclasses.asdict(getattr(default, name)), **value,
                                   **({"seed": seed} if "seed" in section else {})})
        return cls(**values)


@dataclass(frozen=True)
class PosterSettings(Settings):
    """Which frozen backbones embed the poster, at which precision, mirrored or not."""

    backbones: list[str] = field(default_factory=lambda: list(DEFAULT_BACKBONES))
    tta: bool = False  # average with the mirrored poster (fp32 only)
    precision: str = "int8"  # "int8" (``features.quantize``) | "fp32"

    def __post_init__(self):
        if (not isinstance(self.backbones, list) or not self.backbones
                or len(set(self.backbones)) != len(self.backbones)):
            raise ValueError(f"backbones must be a list of distinct backbone names, not "
                             f"{self.backbones!r}")
        for name in self.backbones:
            resolve(name)
        check_precision(self.precision)
        if not isinstance(self.tta, bool):
            raise ValueError(f"tta must be true or false, not {self.tta!r}")
        if self.tta and self.precision != "fp32":
            raise ValueError("tta (test-time flipping) is for fp32 backbones; use precision fp32")

    def poster_inputs(self) -> list[BackboneEmbedding]:
        return [BackboneEmbedding(b, self.tta, self.precision) for b in self.backbones]

    def backbone_label(self) -> str:
        return (f"{'+'.join(self.backbones)}{' +flip' if self.tta else ''}"
                f"{' int8' if self.precision == 'int8' else ''}")

"""``TrainConfig``: everything that decides a training run, stored in every run folder.

The generic part (the model's name, the split, seed, decision and final-model choices) and
the chosen model's own settings (``ModelChoice.settings``: its sections, e.g. ``head``,
``fusion``, and its backbones). Stored as given and validated where the library receives it,
so every entry point (the CLI, a config file, a tuning trial) gets the same one-line
``ValueError``; a setting the chosen model does not have is refused by name. ``seed`` is the
one seed of a run: it seeds a split made now and every model's training. In JSON the model's
settings sit beside the generic keys (``{"model": "head", "backbones": [...], "head": {...},
"folds": 5, ...}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..models.registry import get_model
from ..models.settings import Settings
from ..models.space import set_path

FINALS = ("cv-ensemble", "refit")
MAX_FOLDS = 20
MAX_SEED = 2**32 - 1


def _default_settings() -> Settings:
    return get_model("fusion").settings()  # every section's seed: the default seed, 0


@dataclass(frozen=True)
class TrainConfig:
    model: str = "fusion"  # a name in models.registry.MODULES
    settings: Settings = field(default_factory=_default_settings)  # the model's own
    min_support: int = 50
    folds: int = 5
    test: float = 0.15
    seed: int = 0
    at_least_one: bool = True
    final: str | None = None  # "cv-ensemble" | "refit"; None: the model's default
    train_subset: int | None = None  # train on this many random training posters (test: all)
    cv_rounds: int | None = None  # run only the first N CV rounds (None: one per fold)

    def __post_init__(self):
        choice = get_model(self.model)  # ValueError naming the choices
        if type(self.settings) is not choice.settings:
            raise ValueError(f"model {self.model!r} takes {choice.settings.__name__}, not "
                             f"{type(self.settings).__name__}")
        _check_int("min_support", self.min_support, 1, 10**9)
        _check_int("folds", self.folds, 3, MAX_FOLDS)
        _check_int("seed", self.seed, 0, MAX_SEED)
        if isinstance(self.test, bool) or not 0.01 <= float(self.test) <= 0.5:
            raise ValueError(f"test must be a fraction in [0.01, 0.5], not {self.test!r}")
        if self.train_subset is not None:
            _check_int("train_subset", self.train_subset, 10, 10**9)
        if self.cv_rounds is not None:
            _check_int("cv_rounds", self.cv_rounds, 1, MAX_FOLDS)
        if self.final is not None and self.final not in FINALS:
            raise ValueError(f"final must be one of {FINALS}, not {self.final!r}")
        if not isinstance(self.at_least_one, bool):
            raise ValueError(f"at_least_one must be true or false, not {self.at_least_one!r}")

    @classmethod
    def of(cls, model: str = "fusion", **values: Any) -> TrainConfig:
        """A config of ``model`` with generic values and settings given by name (dotted for
        a section: ``TrainConfig.of("head", folds=3, backbones=[...], **{"head.lr": 1e-3})``)."""
        return cls.from_json({"model": model}).with_values(values)

    @property
    def final_model(self) -> str:
        return self.final or get_model(self.model).default_final

    def to_json(self) -> dict:
        generic = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "settings"}
        return {"model": self.model, **self.settings.to_json(),
                **{k: v for k, v in generic.items() if k != "model"}}

    def with_values(self, values: dict[str, Any]) -> TrainConfig:
        """A new, validated config: this one with ``values`` set (dotted paths such as
        ``"head.lr"``); ``KeyError``/``ValueError`` name an unknown or bad setting. A new
        ``model`` starts from that model's settings."""
        d = json.loads(json.dumps(self.to_json()))
        if "model" in values and values["model"] != self.model:
            generic = {k: v for k, v in d.items() if k in _GENERIC}
            d = TrainConfig.from_json({**generic, "model": values["model"]}).to_json()
        for path, value in values.items():
            if path.split(".")[0] in _GENERIC:
                d[path] = value
                continue
            if path.split(".")[0] not in d:
                model = values.get("model", self.model)
                raise KeyError(f"{path} does not apply to model {model!r}")
            set_path(d, path, value)
        if "seed" in values:  # the sections take the run's new seed
            d = {k: {n: x for n, x in v.items() if n != "seed"} if isinstance(v, dict) else v
                 for k, v in d.items()}
        return TrainConfig.from_json(d)

    @classmethod
    def from_json(cls, d: dict) -> TrainConfig:
        """A config from ``to_json``'s output (the model's settings given in part keep its
        defaults); a key neither generic nor the model's is refused, by name."""
        if not isinstance(d, dict):
            raise ValueError("a config must be a JSON object")
        model = d.get("model", "fusion")
        choice = get_model(model)
        generic = {k: v for k, v in d.items() if k in _GENERIC}
        own = {k: v for k, v in d.items() if k not in _GENERIC}
        return cls(settings=choice.settings.from_json(own, model, generic.get("seed", 0)),
                   **generic)

    def for_split(self, folds: int) -> TrainConfig:
        """This config as run on a split of ``folds`` folds."""
        return self if folds == self.folds else replace(self, folds=folds)


_GENERIC = {f.name for f in fields(TrainConfig)} - {"settings"}


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], not {value!r}")

"""``TrainConfig``: everything that decides a training run, stored in every run folder.

Values are validated here, where the library receives them, so every entry point (the CLI,
a config file, a tuning trial) gets the same one-line ``ValueError``. ``seed`` is the one
seed of a run: it seeds a split made now and every model's training.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..features.quantize import check_precision
from ..models.finetune import FineTuneConfig
from ..models.fusion import FusionConfig
from ..models.heads import HeadConfig
from ..models.registry import get_model
from ..models.seed_cnn import SeedCNNConfig
from ..models.space import set_path

FINALS = ("cv-ensemble", "refit")
MAX_FOLDS = 20
MAX_SEED = 2**32 - 1


@dataclass
class TrainConfig:
    model: str = "fusion"  # a name in models.registry.MODELS
    backbones: list[str] = field(
        default_factory=lambda: ["efficientnet_lite0", "mobilenet_v2", "efficientnet_lite2"]
    )
    tta: bool = False
    precision: str = "int8"  # of the backbones: "int8" (features.quantize) | "fp32"
    head: HeadConfig = field(default_factory=HeadConfig)
    seed_cnn: SeedCNNConfig = field(default_factory=SeedCNNConfig)
    finetune: FineTuneConfig = field(default_factory=FineTuneConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    min_support: int = 50
    folds: int = 5
    test: float = 0.15
    seed: int = 0
    at_least_one: bool = True
    final: str | None = None  # "cv-ensemble" | "refit"; None: the model's default
    train_subset: int | None = None  # train on this many random training posters (test: all)
    cv_rounds: int | None = None  # run only the first N CV rounds (None: one per fold)

    def __post_init__(self):
        self.check()

    def check(self) -> TrainConfig:
        """Validate every value (``ValueError`` naming it) and hand ``seed`` to the models."""
        get_model(self.model)  # ValueError naming the choices
        check_precision(self.precision)
        if self.tta and self.precision != "fp32":
            raise ValueError("tta (test-time flipping) is for fp32 backbones; use precision fp32")
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
        for section in self.sections():
            section.__post_init__()
            section.seed = self.seed
        return self

    def sections(self) -> list:
        return [self.head, self.seed_cnn, self.finetune, self.fusion]

    @property
    def final_model(self) -> str:
        return self.final or get_model(self.model).default_final

    def to_json(self) -> dict:
        return asdict(self)

    def with_values(self, values: dict[str, Any]) -> TrainConfig:
        """A new, validated config: this one with ``values`` set (dotted paths such as
        ``"head.lr"``); ``KeyError``/``ValueError`` name an unknown or bad setting."""
        d = json.loads(json.dumps(self.to_json()))
        for path, value in values.items():
            set_path(d, path, value)
        return TrainConfig.from_json(d)

    @classmethod
    def from_json(cls, d: dict) -> TrainConfig:
        """A config from ``to_json``'s output; unknown keys are refused, by name."""
        if not isinstance(d, dict):
            raise ValueError("a config must be a JSON object")
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown config key(s) {sorted(unknown)}")
        d = dict(d)
        for key, section in (("head", HeadConfig), ("seed_cnn", SeedCNNConfig),
                             ("finetune", FineTuneConfig), ("fusion", FusionConfig)):
            d[key] = section(**d.get(key, {}))
        return cls(**d)


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], not {value!r}")

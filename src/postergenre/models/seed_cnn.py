"""``seed-cnn``: the prototype's network, trained from scratch on poster pixels.

The prototype (Keras) was, on 200x200x3 posters::

    Conv2D(50,3) MaxPool(2) Dropout(.2)  Conv2D(20,3) MaxPool(2) Dropout(.2)
    Conv2D(10,3) MaxPool(2) Dropout(.2)  Flatten  Dense(64) Dropout(.5)  Dense(32) Dropout(.5)
    Dense(n_genres, sigmoid)

with one activation for every hidden layer (searched over relu/tanh/linear), SGD/Adagrad/Adam
at learning rate 0.001, 10 epochs, batch 10. ``SeedCNN`` is that network in PyTorch, with
Keras' defaults where they differ from PyTorch's ('valid' convolutions, Glorot-uniform
weights, zero biases, Adagrad's initial accumulator 0.1). Its ``forward`` takes canvas
pixels like every bundle graph and resizes them to ``image_hw`` inside the graph.

What changes from the prototype is the evaluation around it: the same split, CV, per-genre
thresholds and metrics as every other model (the prototype took the argmax of multi-label
outputs, which misjudged it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..features.inputs import Inputs
from ..features.specs import Pixels
from .base import ModelChoice
from .loop import LogitsModule, as_float_nchw, resolve_device
from .on_pixels import PixelEstimator
from .settings import Settings
from .space import Categorical, Float, SearchSpace, check_loss, check_ranges

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "linear": nn.Identity}
OPTIMIZERS = ("sgd", "adagrad", "adam", "adamw")


# every number in range, checked where the library receives it (CLI, config file, trial)
SEED_CNN_LIMITS = (("batch_size", 1, 65_536), ("max_epochs", 1, 10_000), ("patience", 1, 1_000),
                   ("seed", 0, 2**32 - 1), ("lr", 1e-7, 1.0), ("weight_decay", 0.0, 1.0),
                   ("conv_dropout", 0.0, 0.9), ("dense_dropout", 0.0, 0.9))


@dataclass
class SeedCNNConfig:
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 10
    max_epochs: int = 10
    patience: int = 3  # epochs without validation gain before stopping (CV only)
    image_hw: list[int] = field(default_factory=lambda: [200, 200])
    loss: str = "bce"
    conv_dropout: float = 0.2
    dense_dropout: float = 0.5
    cosine: bool = False  # cosine learning-rate decay (the prototype had a constant rate)
    seed: int = 0
    device: str = "auto"  # "auto": CUDA when present, else CPU

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"seed-cnn activation must be one of {list(ACTIVATIONS)}, not {self.activation!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"seed-cnn optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}"
            )
        check_loss(self.loss)
        hw = self.image_hw
        if not isinstance(hw, list | tuple) or len(hw) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 22 <= v <= 1024 for v in hw
        ):
            raise ValueError(f"seed-cnn image_hw must be [h, w] with sides 22 to 1024, not {hw}")
        self.image_hw = [int(v) for v in hw]
        check_ranges("seed-cnn", self, SEED_CNN_LIMITS)

    def to_json(self) -> dict:
        return asdict(self)


class SeedCNN(LogitsModule):
    """Pixels (N, 3, *image_hw) float in [0, 255] -> genre logits (N, n_out)."""

    def __init__(
        self,
        n_out: int,
        activation: str = "relu",
        image_hw=(200, 200),
        conv_dropout: float = 0.2,
        dense_dropout: float = 0.5,
    ):
        super().__init__()
        self.image_hw = (int(image_hw[0]), int(image_hw[1]))
        act = ACTIVATIONS[activation]
        layers: list[nn.Module] = []
        channels = 3
        h, w = self.image_hw
        for filters in (50, 20, 10):
            layers += [
                nn.Conv2d(channels, filters, 3),
                act(),
                nn.MaxPool2d(2),
                nn.Dropout(conv_dropout),
            ]
            channels, h, w = filters, (h - 2) // 2, (w - 2) // 2
        layers += [
            nn.Flatten(),
            nn.Linear(channels * h * w, 64),
            act(),
            nn.Dropout(dense_dropout),
            nn.Linear(64, 32),
            act(),
            nn.Dropout(dense_dropout),
            nn.Linear(32, n_out),
        ]
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Conv2d | nn.Linear):  # Keras: glorot_uniform, zeros
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x / 255.0)


class SeedCNNClassifier(PixelEstimator):
    """``SeedCNN`` on the poster's pixels at ``image_hw``, trained by ``fit_loop``."""

    config: SeedCNNConfig

    def __init__(self, pixel_input: str, config: SeedCNNConfig | None = None):
        self.config = config or SeedCNNConfig()
        super().__init__(pixel_input, self.config.device)

    def fit(self, inputs: Inputs, y: np.ndarray, val_inputs: Inputs | None = None,
            val_y: np.ndarray | None = None, epochs: int | None = None) -> SeedCNNClassifier:
        c = self.config
        torch.manual_seed(c.seed)
        module = SeedCNN(y.shape[1], c.activation, c.image_hw, c.conv_dropout, c.dense_dropout)
        # faster on CPU; torch's stubs omit Module.to's memory_format (it is in the docs)
        module = module.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.module = module
        x = self.pixels(inputs)
        return self.run_loop(module, self.optimizer(module),
                          lambda rows: as_float_nchw(x[rows], self.device), y, val_inputs, val_y,
                          epochs, c.loss)

    def optimizer(self, module: nn.Module) -> torch.optim.Optimizer:
        c = self.config
        params = module.parameters()
        if c.optimizer == "sgd":
            return torch.optim.SGD(params, lr=c.lr, weight_decay=c.weight_decay)
        if c.optimizer == "adagrad":
            return torch.optim.Adagrad(
                params,
                lr=c.lr,
                weight_decay=c.weight_decay,
                initial_accumulator_value=0.1,
                eps=1e-7,
            )
        if c.optimizer == "adam":
            return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay, eps=1e-7)
        return torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)


SPACES = {
    "prototype-grid": SearchSpace(
        "prototype-grid",
        "the prototype's grid: activation x optimizer at lr 0.001, batch 10, up to 10 epochs",
        {
            "seed_cnn.activation": Categorical(("relu", "tanh", "linear")),
            "seed_cnn.optimizer": Categorical(("sgd", "adagrad", "adam")),
        },
        fixed={"seed_cnn.lr": 1e-3, "seed_cnn.batch_size": 10, "seed_cnn.max_epochs": 10},
    ),
    "wide": SearchSpace(
        "wide",
        "more than the prototype searched: learning rate, batch, regularisation, loss",
        {
            "seed_cnn.activation": Categorical(("relu", "tanh")),
            "seed_cnn.optimizer": Categorical(("adam", "adamw", "sgd")),
            "seed_cnn.lr": Float(1e-4, 1e-2, log=True),
            "seed_cnn.batch_size": Categorical((10, 32, 64)),
            "seed_cnn.weight_decay": Float(1e-6, 1e-2, log=True),
            "seed_cnn.conv_dropout": Float(0.0, 0.4),
            "seed_cnn.dense_dropout": Float(0.0, 0.6),
            "seed_cnn.loss": Categorical(("bce", "weighted_bce", "asl")),
            "seed_cnn.cosine": Categorical((False, True)),
        },
    ),
}


@dataclass(frozen=True)
class SeedCNNSettings(Settings):
    """``seed-cnn``: the network and its training, on pixels."""

    seed_cnn: SeedCNNConfig = field(default_factory=SeedCNNConfig)


def _label(settings: SeedCNNSettings) -> str:
    s = settings.seed_cnn
    h, w = s.image_hw
    return (f"{s.activation}/{s.optimizer} lr {s.lr:g}, batch {s.batch_size}, "
            f"<={s.max_epochs} epochs, {h}x{w}, {s.loss}")


CHOICE = ModelChoice(
    name="seed-cnn",
    summary="the prototype's CNN, trained from scratch on pixels",
    settings=SeedCNNSettings,
    inputs=lambda s: [Pixels((int(s.seed_cnn.image_hw[0]), int(s.seed_cnn.image_hw[1])))],
    make=lambda s, names, seed: SeedCNNClassifier(names[0], replace(s.seed_cnn, seed=seed)),
    describe=lambda s: {"type": "seed-cnn", "seed_cnn": s.seed_cnn.to_json()},
    label=_label,
    device=lambda s: str(resolve_device(s.seed_cnn.device)),
    spaces=SPACES,
)

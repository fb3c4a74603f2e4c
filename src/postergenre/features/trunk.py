"""What a backbone's builder makes: an ImageNet network in two parts, so that
``BackboneFeatures`` can pool its feature map into an embedding."""

from __future__ import annotations

import torch
from torch import nn


class Trunk(nn.Module):
    """``forward_features``: normalised pixels (N, 3, H, W) -> feature map (N, C, h, w);
    ``forward_head``: pooled features (N, C) -> ImageNet logits (N, 1000)."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_head(self, pooled: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

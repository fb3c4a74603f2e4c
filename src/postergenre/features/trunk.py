"""What a backbone's builder makes: an ImageNet network in two parts, so that
``BackboneFeatures`` can pool its feature map (and its stages' outputs) into an embedding."""

from __future__ import annotations

import torch
from torch import nn


class Trunk(nn.Module):
    """``forward_features``: normalised pixels (N, 3, H, W) -> feature map (N, C, h, w);
    ``forward_stages``: the same map and the output of every stage of blocks but the first
    (the last block of each run with one output width); ``forward_head``: pooled features
    (N, C) -> ImageNet logits (N, 1000)."""

    stage_widths: tuple[int, ...]  # channels of each map ``forward_stages`` lists

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_stages(x)[0]

    def forward_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError

    def forward_head(self, pooled: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def stage_ends(widths: list[int]) -> list[int]:
    """Indices of the blocks that end a stage (the next block's width differs), but the first
    stage's: the taps of ``forward_stages``, given each block's output width."""
    ends = [i for i, w in enumerate(widths) if i + 1 == len(widths) or widths[i + 1] != w]
    return ends[1:]

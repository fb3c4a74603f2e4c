"""Losses for unbalanced multi-label data, all taking logits and 0/1 targets."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .space import LOSSES


def positive_weights(y: torch.Tensor, cap: float = 10.0) -> torch.Tensor:
    """Per-genre weight for positives, sqrt(negatives/positives), capped."""
    pos = y.sum(0).clamp(min=1.0)
    return ((len(y) - pos) / pos).sqrt().clamp(max=cap)


def multilabel_loss(
    name: str,
    logits: torch.Tensor,
    y: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
    gamma: float = 2.0,
    gamma_neg: float = 4.0,
    clip: float = 0.05,
) -> torch.Tensor:
    """Mean loss over posters and genres.

    ``bce``: plain binary cross-entropy; ``weighted_bce``: positives weighted by
    ``pos_weight``; ``focal``: focal loss (Lin et al. 2017) with ``gamma``; ``asl``:
    asymmetric loss (Ridnik et al. 2021) with ``gamma_neg`` on negatives, none on positives,
    and probability shifting by ``clip``.
    """
    if name == "bce":
        return F.binary_cross_entropy_with_logits(logits, y)
    if name == "weighted_bce":
        return F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
    p = torch.sigmoid(logits)
    if name == "focal":
        ce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
        p_t = p * y + (1 - p) * (1 - y)
        return (ce * (1 - p_t) ** gamma).mean()
    if name == "asl":
        p_neg = (p - clip).clamp(min=0)
        loss_pos = y * torch.log(p.clamp(min=1e-8))
        loss_neg = (1 - y) * torch.log((1 - p_neg).clamp(min=1e-8)) * p_neg**gamma_neg
        return -(loss_pos + loss_neg).mean()
    raise ValueError(f"unknown loss {name!r}; choose from {LOSSES}")

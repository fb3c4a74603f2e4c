"""EfficientNet-Lite, from ``efficientnet_lite_pytorch``, as a ``Trunk``."""

from __future__ import annotations

import torch

from .trunk import Trunk, stage_ends


class EfficientNetLite(Trunk):
    """EfficientNet-Lite ``arch`` (``efficientnet-lite0`` ...); TF 'same' padding is computed
    for ``input_hw`` at build time (static, so it exports)."""

    def __init__(self, arch: str, input_hw: tuple[int, int]):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_name(arch, image_size=list(input_hw))
        widths = [b._block_args.output_filters for b in self.net._blocks]
        self.taps = stage_ends(widths)
        self.stage_widths = tuple(widths[i] for i in self.taps)

    def forward_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``EfficientNet.extract_features`` (its drop-connect too, which acts only in
        training), keeping the outputs of the blocks in ``taps``."""
        net, stages = self.net, []
        rate = net._global_params.drop_connect_rate
        x = net._swish(net._bn0(net._conv_stem(x)))
        for i, block in enumerate(net._blocks):
            x = block(x, drop_connect_rate=rate * i / len(net._blocks) if rate else rate)
            if i in self.taps:
                stages.append(x)
        return net._swish(net._bn1(net._conv_head(x))), stages

    def forward_head(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net._fc(self.net._dropout(pooled))

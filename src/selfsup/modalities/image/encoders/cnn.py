"""A small convolutional encoder for tiny images (8×8 digits, 32×32 CIFAR-like)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from selfsup.encoders.base import image_shape, positive_int
from selfsup.registry import ENCODERS


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    # no conv bias: BatchNorm's shift makes it redundant
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


@ENCODERS.register(
    "small_cnn",
    modality="image",
    description="a few conv-BN-ReLU stages + global average pool; fast on CPU for tiny images",
)
class SmallCNN(nn.Module):
    """Conv-BN-ReLU stages, then global average pooling: ``x [B, C, H, W] -> [B, D]``.

    A stem conv keeps the resolution; each of the ``depth - 1`` further stages halves it
    (while the side is above 2 px) with a strided conv, doubles the channels, and adds one
    more conv. For 8×8 inputs this gives 8 → 4 → 2; for 32×32, 32 → 16 → 8.

    Args:
        input_shape: ``(C, H, W)`` of one sample.
        width: channels of the stem; stage ``i`` has ``width * 2**i``.
        depth: number of stages (stem included).
        output_dim: if given, a linear layer maps the pooled features to this size;
            otherwise ``output_dim = width * 2**(depth - 1)``.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        width: int = 32,
        depth: int = 3,
        output_dim: int | None = None,
    ) -> None:
        super().__init__()
        channels, height, width_px = image_shape(input_shape, "small_cnn")
        positive_int(width, "width", "small_cnn")
        positive_int(depth, "depth", "small_cnn")
        self.input_shape = (channels, height, width_px)
        layers: list[nn.Module] = [_conv_bn_relu(channels, width, stride=1)]
        c_in, side = width, min(height, width_px)
        for stage in range(1, depth):
            c_out = width * 2**stage
            stride = 2 if side > 2 else 1  # stop downsampling before the map vanishes
            side = (side + 1) // 2 if stride == 2 else side
            layers += [_conv_bn_relu(c_in, c_out, stride), _conv_bn_relu(c_out, c_out, 1)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        if output_dim is None:
            self.head: nn.Module = nn.Identity()
            self.output_dim = c_in
        else:
            self.head = nn.Linear(c_in, positive_int(output_dim, "output_dim", "small_cnn"))
            self.output_dim = output_dim

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map ``[B, C', H', W']`` before pooling (for dense objectives)."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, C, H, W] -> [B, output_dim]``."""
        return self.head(self.pool(self.features(x)).flatten(1))

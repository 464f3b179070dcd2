"""torchvision ResNets as encoders, with a small-image stem (never downloads weights)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchvision
from torch import nn

from selfsup.encoders.base import flag, image_shape
from selfsup.errors import SelfsupError
from selfsup.registry import ENCODERS

SMALL_STEM_MAX_SIDE = 64
RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")


class ResNetEncoder(nn.Module):
    """A torchvision ResNet without its classifier: ``x [B, C, H, W] -> [B, output_dim]``.

    Args:
        input_shape: ``(C, H, W)``; the first conv takes ``C`` channels.
        arch: a torchvision ResNet name (``"resnet18"``: output 512, ``"resnet50"``: 2048);
            weights are randomly initialised (no download).
        small_stem: replace the 7×7 stride-2 conv and max-pool by a 3×3 stride-1 conv, as
            SimCLR did for CIFAR-10 (Appendix B.9): the ImageNet stem would shrink a 32 px
            image to 8 px before the first block. Default: on when the shorter side ≤ 64.
        zero_init_residual: start each residual branch's last BN at zero (Goyal et al. 2017).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        arch: str = "resnet18",
        small_stem: bool | None = None,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if arch not in RESNETS:
            raise SelfsupError(f"Unknown ResNet {arch!r}; choose one of {', '.join(RESNETS)}.")
        channels, height, width = image_shape(input_shape, arch)
        self.input_shape = (channels, height, width)
        zero_init_residual = flag(zero_init_residual, "zero_init_residual", arch)
        if small_stem is None:
            small_stem = min(height, width) <= SMALL_STEM_MAX_SIDE
        self.small_stem = flag(small_stem, "small_stem", arch)
        net = getattr(torchvision.models, arch)(weights=None, zero_init_residual=zero_init_residual)
        if self.small_stem:
            net.conv1 = nn.Conv2d(channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif channels != 3:
            net.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.output_dim = net.fc.in_features
        net.fc = nn.Identity()
        self.backbone = net

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Last feature map ``[B, output_dim, H', W']`` (for dense objectives)."""
        n = self.backbone
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        return n.layer4(n.layer3(n.layer2(n.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, C, H, W] -> [B, output_dim]`` (global average pool)."""
        return self.backbone(x)


@ENCODERS.register(
    "resnet18", modality="image", output_dim=512,
    description="torchvision ResNet-18, random init, 3x3 stem for small images",
)
def resnet18(
    input_shape: Sequence[int], small_stem: bool | None = None, zero_init_residual: bool = False
) -> ResNetEncoder:
    """ResNet-18 encoder (``output_dim`` 512); see :class:`ResNetEncoder`."""
    return ResNetEncoder(input_shape, "resnet18", small_stem, zero_init_residual)


@ENCODERS.register(
    "resnet50", modality="image", output_dim=2048,
    description="torchvision ResNet-50, random init, 3x3 stem for small images",
)
def resnet50(
    input_shape: Sequence[int], small_stem: bool | None = None, zero_init_residual: bool = False
) -> ResNetEncoder:
    """ResNet-50 encoder (``output_dim`` 2048); see :class:`ResNetEncoder`."""
    return ResNetEncoder(input_shape, "resnet50", small_stem, zero_init_residual)

"""The 1-D convolutional networks of Wang, Yan, Oates 2017 for time series: FCN and ResNet.

"Time series classification from scratch with deep neural networks: a strong baseline"
(IJCNN 2017) proposed both as baselines trained end to end on raw series; here they are
backbones with the time-series encoder conventions of :mod:`selfsup.modalities.timeseries.encoders.base`
(missing values, devices, the sequence contract), pooled by the mean over observed time.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.encoders.base import (
    SeriesEncoder,
    hold,
    positive_ints,
    series_shape,
)
from selfsup.registry import ENCODERS

__all__ = ["FCN1d", "ResNet1d"]


class _ConvBNReLU(nn.Module):
    """``Conv1d ("same") -> BatchNorm -> ReLU`` (Wang et al. 2017's basic block)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, relu: bool = True) -> None:
        super().__init__()
        # "same" length; an even kernel gets the extra zero on the right (as Keras' "same")
        self.padding = ((kernel_size - 1) // 2, kernel_size // 2)
        # no conv bias: BatchNorm's shift makes it redundant
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, bias=False)
        self.norm = nn.BatchNorm1d(c_out)
        self.relu = relu

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.conv(F.pad(h, self.padding)))
        return F.relu(h) if self.relu else h


def masked_input(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``x [B, T, C]`` with the masked timestamps zeroed, channel-first ``[B, C, T]``."""
    if mask is not None:
        x = x.masked_fill(mask[..., None], 0.0)
    return x.transpose(1, 2)


_WANG_NOTES = """
    ``mask`` zeroes the masked timestamps of the *input*: the first convolution already mixes
    neighbouring timestamps, so there is no per-timestamp latent to zero. Missing timestamps
    are held at 0 after every block. A NaN-padded series then embeds exactly as the unpadded
    one in eval mode (BatchNorm with running statistics, as for embedding and evaluation); in
    training, BatchNorm's batch statistics also count the padded positions.
"""


@ENCODERS.register(
    "fcn1d",
    modality="timeseries",
    sequence=True,
    description="Fully convolutional network of Wang et al. 2017 (conv-BN-ReLU 128-256-128, "
    "kernels 8/5/3), mean-pooled",
)
class FCN1d(SeriesEncoder):
    __doc__ = r"""Fully convolutional network (Wang, Yan, Oates 2017, Section II.B):
    ``x [B, T, C] -> [B, channels[-1]]``.

    Conv-BN-ReLU blocks :math:`h \leftarrow \mathrm{ReLU}(\mathrm{BN}(W * h))` (stride 1,
    "same" length), then global average pooling over the observed timestamps. Shapes:
    ``forward_sequence(x [B, T, C], mask [B, T]) -> [B, T, channels[-1]]``.
    """ + _WANG_NOTES + r"""
    Args:
        input_shape: ``(T, C)`` or ``(D, T, C)``; only ``C`` is fixed.
        channels: filters of each block.
        kernel_sizes: kernel of each block (same length as ``channels``).

    Paper defaults vs. library defaults:
        * three blocks of 128, 256, 128 filters with kernels 8, 5, 3, BN + ReLU, global
          average pooling (Section II.B, Fig. 1(b)). Library: the same; the softmax classifier is
          left to evaluation.
    """

    name = "fcn1d"
    pool = "mean"

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (128, 256, 128),
        kernel_sizes: Sequence[int] = (8, 5, 3),
    ) -> None:
        super().__init__()
        _, self.channels = series_shape(input_shape, self.name)
        widths = positive_ints(channels, "channels", self.name)
        kernels = positive_ints(kernel_sizes, "kernel_sizes", self.name)
        if len(widths) != len(kernels):
            raise SelfsupError(f"Encoder {self.name!r}: channels {list(widths)} and kernel_sizes "
                               f"{list(kernels)} must have the same length (one per block).")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_dim = self.sequence_dim = widths[-1]
        self.blocks = nn.ModuleList(
            _ConvBNReLU(c_in, c_out, k)
            for c_in, c_out, k in zip((self.channels, *widths[:-1]), widths, kernels)
        )

    def encode_sequence(
        self, x: torch.Tensor, observed: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, keep = masked_input(x, mask), observed[:, None].to(x.dtype)
        for block in self.blocks:
            h = hold(block(h), keep)
        return h.transpose(1, 2), observed


class _ResidualBlock(nn.Module):
    """Conv-BN-ReLU blocks (the last without ReLU) + shortcut, then ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel_sizes: Sequence[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            _ConvBNReLU(c_in if i == 0 else c_out, c_out, k, relu=i < len(kernel_sizes) - 1)
            for i, k in enumerate(kernel_sizes)
        )
        self.shortcut = (
            nn.Identity() if c_in == c_out
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out))
        )

    def forward(self, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        out = h
        for conv in self.convs:
            out = hold(conv(out), keep)
        return hold(F.relu(out + self.shortcut(h)), keep)


@ENCODERS.register(
    "resnet1d",
    modality="timeseries",
    sequence=True,
    description="1-D ResNet of Wang et al. 2017 (3 residual blocks of 64-128-128 filters, "
    "kernels 8/5/3), mean-pooled",
)
class ResNet1d(SeriesEncoder):
    __doc__ = r"""1-D residual network (Wang, Yan, Oates 2017, Section II.C):
    ``x [B, T, C] -> [B, channels[-1]]``.

    Each residual block is Conv-BN-ReLU blocks with kernels ``kernel_sizes`` (the last without
    ReLU) plus a shortcut (identity, or 1×1 convolution + BN where the width changes), then
    ReLU: :math:`h \leftarrow \mathrm{ReLU}(F(h) + S(h))`. Global average pooling over the
    observed timestamps. Shapes: ``forward_sequence(x, mask) -> [B, T, channels[-1]]``.
    """ + _WANG_NOTES + r"""
    Args:
        input_shape: ``(T, C)`` or ``(D, T, C)``; only ``C`` is fixed.
        channels: filters of each residual block.
        kernel_sizes: kernels of the convolutions inside every block.

    Paper defaults vs. library defaults:
        * three residual blocks of 64, 128, 128 filters, each three convolutions with kernels
          8, 5, 3, BN + ReLU, global average pooling (Section II.C, Fig. 1(c)). Library: the same;
          the shortcut's form is not fixed by the text (identity where the width is kept).
    """

    name = "resnet1d"
    pool = "mean"

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (64, 128, 128),
        kernel_sizes: Sequence[int] = (8, 5, 3),
    ) -> None:
        super().__init__()
        _, self.channels = series_shape(input_shape, self.name)
        widths = positive_ints(channels, "channels", self.name)
        kernels = positive_ints(kernel_sizes, "kernel_sizes", self.name)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_dim = self.sequence_dim = widths[-1]
        self.blocks = nn.ModuleList(
            _ResidualBlock(c_in, c_out, kernels)
            for c_in, c_out in zip((self.channels, *widths[:-1]), widths)
        )

    def encode_sequence(
        self, x: torch.Tensor, observed: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, keep = masked_input(x, mask), observed[:, None].to(x.dtype)
        for block in self.blocks:
            h = block(h, keep)
        return h.transpose(1, 2), observed

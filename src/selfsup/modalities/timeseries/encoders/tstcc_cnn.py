"""TS-TCC's encoder: three convolutional blocks that each halve the series' length.

Eldele et al. 2021, "Time-Series Representation Learning via Temporal and Contextual
Contrasting" (IJCAI), Section 3.2 / implementation details: a 3-block convolutional encoder
whose latent sequence (``T' ~ T / 8``) is what the temporal-contrasting transformer reads.
It follows the time-series encoder conventions of :mod:`selfsup.modalities.timeseries.encoders.base`
(missing values, devices, the sequence contract).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.encoders.base import positive_int
from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.encoders.base import (
    SeriesEncoder,
    hold,
    positive_ints,
    series_shape,
)
from selfsup.modalities.timeseries.encoders.conv1d import masked_input
from selfsup.registry import ENCODERS

__all__ = ["TSTCCEncoder"]


class _Block(nn.Module):
    """``Conv1d ("same" padding, stride s) -> BatchNorm -> ReLU``: output ``i`` is centred on
    input ``i * s`` (``ceil(T / s)`` outputs)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.padding = ((kernel_size - 1) // 2, kernel_size // 2)
        self.conv = nn.Conv1d(c_in, c_out, kernel_size, stride=stride, bias=False)
        self.norm = nn.BatchNorm1d(c_out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(F.pad(h, self.padding))))


@ENCODERS.register(
    "tstcc_cnn",
    modality="timeseries",
    sequence=True,
    description="TS-TCC's encoder (Eldele et al. 2021): 3 blocks conv-BN-ReLU-MaxPool(2) of "
    "32-64-128 filters, kernel 8; one latent per ~8 timestamps, mean-pooled",
)
class TSTCCEncoder(SeriesEncoder):
    r"""TS-TCC's convolutional encoder (Eldele et al. 2021): ``x [B, T, C] -> [B, channels[-1]]``.

    Block :math:`i`: :math:`h \leftarrow \mathrm{MaxPool}_{2}(\mathrm{ReLU}(\mathrm{BN}(W_i * h)))`
    (convolution with stride ``stride`` in the first block, 1 after; max-pooling with
    kernel 2, stride 2 and one position of padding on each side), dropout after the first
    block. Each block halves the length: ``T' = p(p(p(ceil(T / stride))))`` with
    :math:`p(L) = \lfloor L / 2 \rfloor + 1` (20 latents for ``T = 150``, 24 for 178, 17 for 128).
    ``embed`` is the mean of the latents over the observed positions.

    Shapes: ``forward_sequence(x [B, T, C], mask [B, T]) -> [B, T', channels[-1]]``;
    ``forward(x) -> [B, channels[-1]]``.

    Missing values: the input's missing timestamps are 0, every block's activations are held
    at 0 at missing positions (before pooling; activations are >= 0 after the ReLU, so a held
    zero never wins a max over an observed value), and a pooled position is observed when
    its window holds an observed one. A NaN-padded series then embeds exactly as the unpadded
    one in eval mode (BatchNorm with running statistics). ``mask`` zeroes the masked
    timestamps of the *input* (the first convolution mixes timestamps, as in
    :class:`~selfsup.modalities.timeseries.encoders.conv1d.FCN1d`).

    Args:
        input_shape: ``(T, C)`` or ``(D, T, C)``; only ``C`` is fixed.
        channels: filters of each block.
        kernel_sizes: kernel of each block's convolution (same length as ``channels``).
        stride: stride of the first convolution (the later ones have stride 1).
        dropout: dropout after the first block (training only).

    Paper defaults vs. library defaults (the authors' ``models/model.py`` and
    ``config_files/*_Configs.py``):
        * three blocks of 32, 64, 128 filters (``final_out_channels = 128``), kernel 8,
          first stride 1 (HAR, Epilepsy; Sleep-EDF: kernel 25, stride 6), no convolution bias,
          BN, ReLU, ``MaxPool1d(2, stride 2, padding 1)``, dropout 0.35 after the first block.
          Library: the same.
        * the authors pad every convolution by ``k // 2`` on both sides (``T + 1`` outputs for
          an even kernel); the library pads to the input's length ("same", the extra zero on
          the right), so the observed positions line up with the input's and padding never
          spreads into them. Latent lengths differ by at most one (20 vs. 21 for ``T = 150``,
          24 vs. 24 for 178, 17 vs. 18 for 128).
        * the authors classify the flattened ``[128 x T']`` latents (a length-specific linear
          layer); the library mean-pools them, so any length embeds to ``channels[-1]``.
    """

    name = "tstcc_cnn"
    pool = "mean"

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (32, 64, 128),
        kernel_sizes: Sequence[int] = (8, 8, 8),
        stride: int = 1,
        dropout: float = 0.35,
    ) -> None:
        super().__init__()
        _, self.channels = series_shape(input_shape, self.name)
        widths = positive_ints(channels, "channels", self.name)
        kernels = positive_ints(kernel_sizes, "kernel_sizes", self.name)
        if len(widths) != len(kernels):
            raise SelfsupError(f"Encoder {self.name!r}: channels {list(widths)} and kernel_sizes "
                               f"{list(kernels)} must have the same length (one per block).")
        self.stride = positive_int(stride, "stride", self.name)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0.0 <= dropout < 1.0:
            raise SelfsupError(f"Option dropout of encoder {self.name!r} must be in [0, 1); "
                               f"got {dropout!r}.")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_dim = self.sequence_dim = widths[-1]
        self.blocks = nn.ModuleList(
            _Block(c_in, c_out, k, self.stride if i == 0 else 1)
            for i, (c_in, c_out, k)
            in enumerate(zip((self.channels, *widths[:-1]), widths, kernels))
        )
        self.dropout = nn.Dropout(float(dropout))

    def encode_sequence(
        self, x: torch.Tensor, observed: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, keep = masked_input(x, mask), observed[:, None].to(x.dtype)  # [B, C, T], [B, 1, T]
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == 0:
                keep = keep[..., :: self.stride]  # output j is centred on input j * stride
            h = hold(h, keep)
            h = F.max_pool1d(h, kernel_size=2, stride=2, padding=1)
            keep = F.max_pool1d(keep, kernel_size=2, stride=2, padding=1)
            h = hold(h, keep)
            if i == 0:
                h = self.dropout(h)
        return h.transpose(1, 2), keep[:, 0] > 0

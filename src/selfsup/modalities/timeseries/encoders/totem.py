r"""TOTEM's tokeniser encoder (Talukder, Yue, Gkioxari 2024, "TOTEM: TOkenized Time Series
EMbeddings for General Time Series Analysis", Section 3.1): a 1-D convolutional VQ-VAE encoder
that turns every channel of a series into one discrete token per ``compression`` time steps.

Each channel is a univariate series of its own (TOTEM is channel-independent): it is normalised
per sample to zero mean and unit variance over its observed steps (the paper's instance
normalisation), encoded by strided convolutions — ``log2(compression)`` of kernel 4 and stride
2, then a kernel-3 convolution, a residual stack and a 1x1 projection to ``code_dim`` (the
VQ-VAE encoder the paper builds on) — and quantised by the encoder's own
:class:`~selfsup.nn.quantizers.VectorQuantizer` (``quantizer``): the codebook is part of the
encoder, saved with it, and ``selfsup units encode RUN_DIR`` uses it.

Shapes, for ``x [B, T, C]`` and ``T' = ceil(T / compression)``:

- ``forward_sequence(x) -> [B, C * T', code_dim]``: the pre-quantisation latents, channel after
  channel (channel 0's ``T'`` tokens, then channel 1's …); the sequence contract.
- ``frame_mask(x) -> bool [B, C * T']``: a latent exists when one of its ``compression`` steps was
  observed (NaN padding and missing steps are not).
- ``tokens(x) -> long [B, C * T']``: the codebook index of every latent (``-1`` where none).
- ``forward(x) -> [B, code_dim]``: the mean of the existing latents (for probes).

Paper defaults (Section 4 and Appendix): compression ``F = 4``, codebook ``K = 256`` of
dimension ``D = 64``, hidden width 128; library: the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.encoders.base import positive_int
from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.encoders.base import series_shape
from selfsup.nn.quantizers import VectorQuantizer
from selfsup.registry import ENCODERS


class ResidualStack(nn.Module):
    """VQ-VAE's residual stack (van den Oord et al. 2017, Section 4.1): ``layers`` times
    ``h <- h + conv1x1(ReLU(conv3(ReLU(h))))``, then a ReLU. ``h: [B, dim, T]``."""

    def __init__(self, dim: int, hidden: int, layers: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(nn.ReLU(), nn.Conv1d(dim, hidden, 3, padding=1), nn.ReLU(), nn.Conv1d(hidden, dim, 1))
            for _ in range(layers)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            h = h + layer(h)
        return F.relu(h)


def compression_steps(compression: int, name: str) -> int:
    """``log2(compression)``, the number of stride-2 layers, or a SelfsupError naming ``name``."""
    positive_int(compression, "compression", name)
    steps = round(math.log2(compression))
    if 2 ** steps != compression:
        raise SelfsupError(f"Option compression of {name!r} must be a power of two (1, 2, 4, 8 …); got {compression}.")
    return steps


@ENCODERS.register(
    "totem_vqvae",
    modality="timeseries",
    sequence=True,
    description="TOTEM's VQ-VAE tokeniser encoder: per-channel instance norm, strided 1-D convs "
    "(compression F), its own VQ codebook; one token per F steps of each channel",
    paper="Talukder, Yue, Gkioxari 2024, TOTEM: TOkenized Time Series EMbeddings",
)
class TotemEncoder(nn.Module):
    """See the module docstring.

    Args:
        input_shape: ``(T, C)``; any ``T >= 1`` works.
        compression: time steps per token ``F`` (a power of two).
        codebook_size: ``K``. code_dim: ``D`` (= ``output_dim`` = ``sequence_dim``).
        hidden_dim: width of the convolutions. commitment: ``beta`` of the VQ loss.
        restart_after: steps before an unused code is restarted (0: never; the paper
            does not restart codes). On GunPoint without restarts the codebook collapses to
            ~2 of 256 codes in use after 90 steps; restarting after 10 idle steps keeps ~130
            (perplexity) and halves the reconstruction error.
    """

    name = "totem_vqvae"

    def __init__(self, input_shape: Sequence[int], compression: int = 4, codebook_size: int = 256,
                 code_dim: int = 64, hidden_dim: int = 128, commitment: float = 0.25,
                 restart_after: int = 10) -> None:
        super().__init__()
        if len(tuple(input_shape)) != 2:
            raise SelfsupError(f"Encoder {self.name!r} takes series of shape [T, C]; the data has samples of "
                               f"shape {list(input_shape)} (several devices are not supported).")
        _, self.channels = series_shape(input_shape, self.name)
        self.input_shape = tuple(int(s) for s in input_shape)
        steps = compression_steps(compression, self.name)
        for option, value in (("codebook_size", codebook_size), ("code_dim", code_dim), ("hidden_dim", hidden_dim)):
            positive_int(value, option, self.name)
        if isinstance(commitment, bool) or not isinstance(commitment, (int, float)) or not commitment >= 0:
            raise SelfsupError(f"Option commitment of encoder {self.name!r} must be a number >= 0; got {commitment!r}.")
        if isinstance(restart_after, bool) or not isinstance(restart_after, int) or restart_after < 0:
            raise SelfsupError(f"Option restart_after of encoder {self.name!r} must be a whole number >= 0 "
                               f"(0: never restart); got {restart_after!r}.")
        self.compression, self.hidden_dim = compression, hidden_dim
        self.output_dim = self.sequence_dim = code_dim
        layers: list[nn.Module] = []
        width = 1
        for i in range(steps):
            out = hidden_dim if i == steps - 1 else max(hidden_dim // 2, 1)
            layers += [nn.Conv1d(width, out, 4, stride=2, padding=1), nn.ReLU()]
            width = out
        layers += [nn.Conv1d(width, hidden_dim, 3, padding=1), ResidualStack(hidden_dim, max(hidden_dim // 2, 1)),
                   nn.Conv1d(hidden_dim, code_dim, 1)]
        self.convolutions = nn.Sequential(*layers)
        self.quantizer = VectorQuantizer(codebook_size, code_dim, commitment=commitment, ema=False,
                                         restart_after=restart_after or None)

    def normalise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, T, C]`` -> ``(series [B * C, T_pad], observed [B * C, T_pad])``: each channel
        of each sample at zero mean and unit variance over its observed steps, missing steps 0,
        padded with unobserved steps to a multiple of ``compression``."""
        if not torch.is_tensor(x) or not x.is_floating_point() or x.dim() != 3 or x.shape[-1] != self.channels:
            shape = list(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise SelfsupError(f"Encoder {self.name!r} takes float series [B, T, {self.channels}]; got {shape}.")
        series = x.transpose(1, 2).reshape(-1, x.shape[1])  # [B * C, T]
        observed = ~torch.isnan(series)
        count = observed.sum(1, keepdim=True).clamp(min=1)
        filled = series.nan_to_num(0.0)
        mean = filled.sum(1, keepdim=True) / count
        var = ((filled - mean) * observed).pow(2).sum(1, keepdim=True) / count
        series = ((filled - mean) / (var + 1e-5).sqrt()) * observed
        pad = -series.shape[1] % self.compression
        return F.pad(series, (0, pad)), F.pad(observed, (0, pad))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(latents [B * C, T', D], exists [B * C, T'], series [B * C, T_pad], observed)``."""
        series, observed = self.normalise(x)
        latents = self.convolutions(series[:, None]).transpose(1, 2)
        exists = observed.view(observed.shape[0], -1, self.compression).any(-1)
        return latents, exists, series, observed

    def _per_sample(self, flat: torch.Tensor, batch: int) -> torch.Tensor:
        """``[B * C, T', ...]`` -> ``[B, C * T', ...]`` (channel after channel)."""
        return flat.reshape(batch, self.channels * flat.shape[1], *flat.shape[2:])

    def forward_sequence(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pre-quantisation latents ``[B, C * T', D]``; ``mask [B, T]`` (True = masked) zeroes
        those input steps first (the sequence contract's timestamp masking)."""
        if mask is not None:
            x = x.masked_fill(mask.to(x.device, torch.bool)[..., None], 0.0)
        return self._per_sample(self.encode(x)[0], x.shape[0])

    def frame_mask(self, x: torch.Tensor) -> torch.Tensor:
        return self._per_sample(self.encode(x)[1], x.shape[0])

    @torch.no_grad()
    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Codebook index of every latent, ``[B, C * T']`` (``-1`` where the latent does not exist)."""
        latents, exists, _, _ = self.encode(x)
        codes = self.quantizer.assign(latents.reshape(-1, latents.shape[-1])).view(exists.shape)
        return self._per_sample(codes.masked_fill(~exists, -1), x.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        latents, exists, _, _ = self.encode(x)
        latents, exists = self._per_sample(latents, x.shape[0]), self._per_sample(exists, x.shape[0])
        weight = exists[..., None].to(latents.dtype)
        return (latents * weight).sum(1) / weight.sum(1).clamp(min=1.0)


"""Log-mel and MFCC features computed in torch, and the padding convention of audio batches.

**Padding.** A batch of clips of different lengths is one float tensor with NaN after each clip's
end: waveforms ``[B, T]`` (samples), features ``[B, F, T']`` (bins x frames). :func:`lengths`
recovers each clip's length; a view or encoder keeps NaN where there is no signal, so an encoder
pools over the clip alone.

**Log-mel.** :class:`LogMel` is a power spectrogram from :func:`torch.stft` (Hann window,
``center=True`` with zero padding, so a clip of ``L`` samples has ``1 + L // hop`` frames) times a
triangular mel filterbank, then ``log(. + 1e-6)``. The filterbank is written out here from the HTK
mel scale :math:`m = 2595 \\log_{10}(1 + f / 700)` (Young et al., *The HTK Book*, Section 5.4):
``n_mels`` triangles whose peaks are equally spaced in mel between ``f_min`` and ``f_max``, each
rising from the previous peak and falling to the next one, unnormalised (peak 1). No audio library
is needed (torchaudio's wheels pin one torch version; librosa pulls numba).

**MFCC.** :func:`mfcc` is the orthonormal DCT-II of the log-mel over its bins, first ``n``
coefficients (the cepstrum HuBERT's first iteration clusters, Hsu et al. 2021, Section IV-C).
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: defaults of the log-mel frontend: 25 ms windows every 10 ms, 64 bands (BYOL-A uses 64 bands)
WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.010
N_MELS = 64
LOG_OFFSET = 1e-6


def lengths(x: torch.Tensor) -> torch.Tensor:
    """Length of each clip of a NaN-padded batch: ``[B, T]`` or ``[B, F, T]`` -> int64 ``[B]``
    (1 + the last position along the last axis holding any observed value; 0 for none)."""
    observed = ~torch.isnan(x)
    if x.ndim == 3:
        observed = observed.any(dim=1)
    t = observed.shape[-1]
    last = t - 1 - torch.flip(observed.to(torch.int8), dims=[-1]).argmax(dim=-1)
    return torch.where(observed.any(dim=-1), last + 1, torch.zeros_like(last))


def valid_mask(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """Bool ``[B, size]``: True at positions before each clip's length."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular HTK-mel filters ``[n_mels, n_fft // 2 + 1]`` (see the module doc)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    peaks = mel_to_hz(torch.linspace(hz_to_mel(torch.tensor(f_min)), hz_to_mel(torch.tensor(f_max)),
                                     n_mels + 2, dtype=torch.float64))
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    lower, centre, upper = peaks[:-2, None], peaks[1:-1, None], peaks[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def dct_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Orthonormal DCT-II ``[n_out, n_in]``: ``C[k, n] = s_k cos(pi k (2n + 1) / (2 n_in))`` with
    ``s_0 = sqrt(1/n_in)``, ``s_k = sqrt(2/n_in)`` (scipy's ``dct(type=2, norm="ortho")``)."""
    k = torch.arange(n_out, dtype=torch.float64)[:, None]
    n = torch.arange(n_in, dtype=torch.float64)[None, :]
    matrix = torch.cos(math.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    matrix[0] /= math.sqrt(2.0)
    return matrix.float()


class LogMel(nn.Module):
    """NaN-padded waveforms ``[B, T]`` -> NaN-padded log-mel ``[B, n_mels, 1 + T // hop]``.

    Args:
        sample_rate: Hz of the waveforms.
        n_mels: mel bands.
        window_seconds / hop_seconds: analysis window and hop (25 ms / 10 ms).
    """

    def __init__(self, sample_rate: int, n_mels: int = N_MELS, window_seconds: float = WINDOW_SECONDS,
                 hop_seconds: float = HOP_SECONDS) -> None:
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.n_mels = int(n_mels)
        self.win_length = max(2, round(window_seconds * sample_rate))
        self.hop = max(1, round(hop_seconds * sample_rate))
        self.n_fft = 1 << (self.win_length - 1).bit_length()
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)
        self.register_buffer("filters", mel_filterbank(self.n_fft, self.n_mels, self.sample_rate),
                             persistent=False)

    def frames(self, samples: torch.Tensor) -> torch.Tensor:
        """Frames of clips of ``samples`` samples."""
        return torch.where(samples > 0, 1 + samples // self.hop, torch.zeros_like(samples))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        n = lengths(wave)
        spectrum = torch.stft(torch.nan_to_num(wave.float()), self.n_fft, self.hop, self.win_length,
                              self.window, center=True, pad_mode="constant", return_complex=True)
        power = spectrum.real.square() + spectrum.imag.square()  # [B, n_fft/2 + 1, frames]
        logmel = torch.log(torch.einsum("mf,bft->bmt", self.filters, power) + LOG_OFFSET)
        keep = valid_mask(self.frames(n), logmel.shape[-1])
        return logmel.masked_fill(~keep[:, None, :], float("nan"))


def mfcc(logmel: torch.Tensor, n_coefficients: int = 13) -> torch.Tensor:
    """MFCC ``[B, n, T']`` of a log-mel ``[B, M, T']`` (NaN padding kept)."""
    matrix = dct_matrix(logmel.shape[1], n_coefficients).to(logmel.device)
    return torch.einsum("km,bmt->bkt", matrix, logmel)


def normalize_clips(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each clip of ``features [B, F, T]`` standardised over its observed values (a silent or
    constant clip becomes zeros), padding set to 0; returns ``(features, valid [B, T])``."""
    observed = ~torch.isnan(features)
    count = observed.sum(dim=(1, 2), keepdim=True).clamp_min(1)
    filled = torch.nan_to_num(features)
    mean = filled.sum(dim=(1, 2), keepdim=True) / count
    centred = torch.where(observed, filled - mean, 0.0)
    std = (centred.square().sum(dim=(1, 2), keepdim=True) / count).sqrt()
    return centred / std.clamp_min(1e-3), observed.any(dim=1)

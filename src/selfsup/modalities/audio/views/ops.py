"""Batched audio augmentations on NaN-padded clips, per-sample random parameters, on the batch's
device (the view contract of ARCHITECTURE.md). Waveforms are ``[B, T]``, features (log-mel, MFCC)
``[B, F, T]``; every op keeps NaN past each clip's end and works along the last axis.

Sources: SpecAugment's time and frequency masks (Park et al. 2019, Section 2); BYOL-A's mixup,
random resize crop and random linear fader (Niizumi et al. 2021 Section III-C, and the linear
fader of BYOL-A v2, Niizumi et al. 2023); speed perturbation (Ko et al. 2015); gain, additive noise
at a sampled SNR and time shift are the standard waveform augmentations (e.g. wav2vec 2.0's
fine-tuning and the Speech Commands baselines).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.modalities.audio.frontend import lengths, valid_mask


def uniform(low: float, high: float, n: int, device: torch.device) -> Tensor:
    return low + (high - low) * torch.rand(n, device=device)


def gather_time(x: Tensor, source: Tensor, size: Tensor) -> Tensor:
    """``out[b, ..., t] = x[b, ..., source[b, t]]`` for ``t < size[b]``, NaN after."""
    keep = valid_mask(size, source.shape[1])
    index = source.clamp(0, x.shape[-1] - 1)
    if x.dim() == 3:
        index = index[:, None].expand(-1, x.shape[1], -1)
    out = torch.gather(x, -1, index)
    return out.masked_fill(~(keep[:, None] if x.dim() == 3 else keep), float("nan"))


def random_crop(x: Tensor, scale: tuple[float, float] = (0.6, 1.0), size: int | None = None) -> Tensor:
    """A random segment of each clip: ``size`` steps, or a fraction of its own length drawn from
    ``scale``; shorter clips than ``size`` keep their whole length."""
    n = lengths(x)
    if size is None:
        crop = (uniform(*scale, len(n), x.device) * n).round().long().clamp(1)
    else:
        crop = torch.full_like(n, size)
    crop = torch.minimum(crop, n.clamp_min(1))
    start = (torch.rand(len(n), device=x.device) * (n - crop + 1)).long()
    width = int(crop.max())
    return gather_time(x, start[:, None] + torch.arange(width, device=x.device)[None], crop)


def speed(x: Tensor, factors: tuple[float, float] = (0.9, 1.1)) -> Tensor:
    """Speed perturbation: each clip played ``r ~ U(factors)`` times faster (length ``L / r``,
    pitch moves with it), by linear interpolation of the samples."""
    n = lengths(x)
    rate = uniform(*factors, len(n), x.device)
    new = (n / rate).floor().long().clamp(1)
    t = torch.arange(int(new.max()), device=x.device)[None] * rate[:, None]  # source positions
    low = t.floor().long()
    frac = t - low
    limit = (n - 1).clamp_min(0)[:, None]
    a = gather_time(x, torch.minimum(low, limit), new)
    b = gather_time(x, torch.minimum(low + 1, limit), new)
    return a + (b - a) * frac


def gain(x: Tensor, db: float = 6.0) -> Tensor:
    """Each waveform scaled by ``g ~ U(-db, db)`` decibels."""
    g = uniform(-db, db, x.shape[0], x.device)
    return x * (10.0 ** (g / 20.0)).view(-1, *([1] * (x.dim() - 1)))


def add_noise(x: Tensor, snr_db: tuple[float, float] = (10.0, 40.0)) -> Tensor:
    """White noise at a signal-to-noise ratio ``~ U(snr_db)`` dB of each clip's own power (a
    silent clip stays silent)."""
    observed = ~torch.isnan(x)
    power = torch.nan_to_num(x).square().sum(dim=-1) / observed.sum(dim=-1).clamp_min(1)
    snr = uniform(*snr_db, x.shape[0], x.device)
    std = (power / 10.0 ** (snr / 10.0)).sqrt()
    return x + torch.randn_like(x) * std[:, None]


def time_shift(x: Tensor, fraction: float = 0.1) -> Tensor:
    """Each clip rolled (circularly, within its length) by up to ``fraction`` of it, either way."""
    n = lengths(x)
    shift = (uniform(-fraction, fraction, len(n), x.device) * n).round().long()
    t = torch.arange(x.shape[-1], device=x.device)[None]
    return gather_time(x, (t - shift[:, None]) % n.clamp_min(1)[:, None], n)


def clip_mean(x: Tensor) -> Tensor:
    """Mean of each clip's observed values, ``[B, 1, 1]`` for features ``[B, F, T]``."""
    observed = ~torch.isnan(x)
    return (torch.nan_to_num(x).sum(dim=(1, 2)) / observed.sum(dim=(1, 2)).clamp_min(1)).view(-1, 1, 1)


def spec_masks(x: Tensor, time_masks: int = 2, time_width: float = 0.1, freq_masks: int = 2,
               freq_width: float = 0.15) -> Tensor:
    """SpecAugment: ``time_masks`` spans of up to ``time_width`` of each clip's frames and
    ``freq_masks`` bands of up to ``freq_width`` of the bins, each of width ``~ U[0, max]`` at a
    uniform position, set to the clip's mean (Park et al. 2019, Section 2)."""
    b, bins, frames = x.shape
    n = lengths(x)
    hidden = torch.zeros(b, bins, frames, dtype=torch.bool, device=x.device)
    t, f = torch.arange(frames, device=x.device)[None], torch.arange(bins, device=x.device)[None]
    for _ in range(time_masks):
        width = (torch.rand(b, device=x.device) * time_width * n).long()
        start = (torch.rand(b, device=x.device) * (n - width + 1)).long()
        hidden |= ((t >= start[:, None]) & (t < (start + width)[:, None]))[:, None, :]
    for _ in range(freq_masks):
        width = (torch.rand(b, device=x.device) * freq_width * bins).long()
        start = (torch.rand(b, device=x.device) * (bins - width + 1)).long()
        hidden |= ((f >= start[:, None]) & (f < (start + width)[:, None]))[:, :, None]
    return torch.where(hidden & ~torch.isnan(x), clip_mean(x).expand_as(x), x)


def log_mixup_exp(x: Tensor, ratio: float = 0.4) -> Tensor:
    """BYOL-A's mixup of log-mel clips with another clip of the batch (the paper mixes with past
    inputs from a queue): ``log((1 - l) exp(x) + l exp(x_k))``, ``l ~ U(0, ratio)``; where the
    other clip has ended, the clip is left as it is."""
    partner = x[torch.randperm(x.shape[0], device=x.device)]
    mix = uniform(0.0, ratio, x.shape[0], x.device).view(-1, 1, 1)
    mixed = torch.log((1 - mix) * torch.exp(x) + mix * torch.exp(partner))
    return torch.where(torch.isnan(partner), x, mixed)


def random_resize_crop(x: Tensor, virtual_scale: tuple[float, float] = (1.0, 1.5),
                       freq_scale: tuple[float, float] = (0.6, 1.5),
                       time_scale: tuple[float, float] = (0.6, 1.5)) -> Tensor:
    """BYOL-A's random resize crop of features ``[B, F, T]``: each clip sits centred on a zero
    canvas ``virtual_scale`` times its size (bins, frames); a crop of ``~ U(freq_scale)`` times its
    bins and ``~ U(time_scale)`` times its frames (each clipped to the canvas) at a uniform position
    is resized back to the clip's size (bilinear; the paper uses bicubic). ``(1, 1)`` on an axis
    with a canvas of 1 leaves that axis as it is."""
    b, bins, frames = x.shape
    n = lengths(x).clamp_min(1)

    def rand(low: float, high: float) -> Tensor:
        return uniform(low, high, b, x.device)

    sizes = [(rand(*scale).clamp(max=canvas), canvas)
             for scale, canvas in zip((freq_scale, time_scale), virtual_scale)]
    starts = [rand(0, 1) * (canvas - crop) - (canvas - 1) / 2 for crop, canvas in sizes]
    # output position u in [0, 1] of each axis reads the input at start + u * crop (in clip units)
    u_f = torch.linspace(0, 1, bins, device=x.device)[None]
    u_t = torch.arange(frames, device=x.device)[None] / (n - 1).clamp_min(1)[:, None]
    src_f = starts[0][:, None] + u_f * sizes[0][0][:, None]  # [B, F]
    src_t = (starts[1][:, None] + u_t * sizes[1][0][:, None]) * (n - 1)[:, None]  # frames
    grid_f = 2 * src_f - 1  # grid_sample's [-1, 1] with align_corners=True
    grid_t = 2 * src_t / max(frames - 1, 1) - 1
    # beyond the clip's own frames the canvas is zeros, not the next clip's padding
    outside = (src_t < 0) | (src_t > (n - 1)[:, None])
    grid_t = grid_t.masked_fill(outside, 2.0)
    grid = torch.stack(torch.broadcast_tensors(grid_t[:, None, :], grid_f[:, :, None]), dim=-1)
    out = F.grid_sample(torch.nan_to_num(x)[:, None], grid, mode="bilinear", padding_mode="zeros",
                        align_corners=True)[:, 0]
    return out.masked_fill(~valid_mask(n, frames)[:, None], float("nan"))


def linear_fader(x: Tensor, gain: float = 1.0) -> Tensor:
    """BYOL-A v2's random linear fader: a ramp from ``a`` to ``b ~ U(-gain, gain)`` over each
    clip's frames added to its (standardised) log-mel: a fade in or out."""
    n = lengths(x)
    a, b = (uniform(-gain, gain, x.shape[0], x.device) for _ in range(2))
    u = torch.arange(x.shape[-1], device=x.device)[None] / (n - 1).clamp_min(1)[:, None]
    return x + (a[:, None] + (b - a)[:, None] * u)[:, None, :]

"""Batched time-series augmentations as plain functions (used by ``views/timeseries.py``).

Every function takes float ``x [B, T, C]`` (time, then channels) or ``x [B, D, T, C]``
(D time-synchronised devices; each (sample, device) series gets its own random draw), works on
``x``'s device on the whole batch at once, and draws its per-sample random parameters from
torch's global generator (the engine seeds it every step; ``torch.manual_seed`` reproduces a
call). Nothing loops over samples in Python.

**Variable-length series** are padded at the END with NaN (the modality's convention): a
series' observed length is one past its last timestamp with any non-NaN channel
(:func:`observed_lengths`). Ops that add or multiply keep NaN as NaN; ops that move time
(:func:`time_warp`, :func:`window_slice`, :func:`random_crop`, :func:`permutation`) act on each
series' observed part only and leave the padding NaN at the end, so padding never spreads into
observed timestamps. NaN *inside* a series is bad input (the data readers reject it).

Sources: jitter, scaling, magnitude warp, time warp and permutation - Um et al. 2017, "Data
augmentation of wearable sensor data for Parkinson's disease monitoring using convolutional
neural networks" (ICMI); window slicing - Le Guennec, Malinowski & Tavenard 2016, "Data
augmentation for time series classification using convolutional neural networks" (ECML/PKDD
workshop AALTD); segment permutation as a contrastive view - TS-TCC (Eldele et al. 2021, IJCAI);
timestamp masking - TS2Vec (Yue et al. 2022, AAAI, Section 3.2, applied there to latents);
frequency-band masking - SpecAugment (Park et al. 2019, Interspeech: a random contiguous band
zeroed) applied to the Fourier spectrum, as frequency-domain augmentation is used by TF-C
(Zhang et al. 2022, NeurIPS). Default strengths are those of Iwana & Uchida 2021, "An empirical
survey of data augmentation for time series classification with neural networks" (PLOS ONE),
who ran these ops on the UCR archive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from selfsup.errors import SelfsupError

__all__ = [
    "frequency_mask",
    "jitter",
    "magnitude_warp",
    "observed_lengths",
    "permutation",
    "random_crop",
    "scaling",
    "time_warp",
    "timestamp_mask",
    "window_slice",
]

_MIN_SPEED = 1e-2  # time-warp speeds are clipped here so the warp stays strictly monotone


def observed_lengths(x: Tensor) -> Tensor:
    """Observed length of each series: ``[B, T, C] -> [B]``, ``[B, D, T, C] -> [B, D]`` (int64).

    One past the last timestamp where any channel is not NaN; 0 for an all-NaN series.
    """
    observed = ~torch.isnan(x).all(dim=-1)  # [..., T]
    position = torch.arange(1, x.shape[-2] + 1, device=x.device)
    return (observed * position).amax(dim=-1)  # last observed position + 1, or 0


def jitter(x: Tensor, sigma: float | Tensor) -> Tensor:
    """Additive Gaussian noise (Um et al. 2017): ``x + ε``, ``ε ~ N(0, σ²)`` i.i.d. per value.

    ``sigma`` is a number or a tensor broadcastable to ``x`` (e.g. ``[C]``, one per channel).
    NaN stays NaN. Iwana & Uchida 2021 use σ = 0.03 on z-normalised series.
    """
    _check_sigma(sigma, "sigma")
    return x + sigma * torch.randn_like(x)


def scaling(x: Tensor, sigma: float) -> Tensor:
    """Multiply each series' channel by one random factor ``~ N(1, σ²)`` (Um et al. 2017).

    The factor is drawn per (sample, [device,] channel) and is constant over time.
    Um et al. and Iwana & Uchida use σ = 0.1.
    """
    _check_sigma(sigma, "sigma")
    shape = (*x.shape[:-2], 1, x.shape[-1])
    factor = 1.0 + sigma * torch.randn(shape, device=x.device, dtype=x.dtype)
    return x * factor


def magnitude_warp(x: Tensor, sigma: float, knots: int = 4) -> Tensor:
    """Multiply by a smooth random curve (Um et al. 2017, "magnitude-warping").

    Per series and channel, ``knots + 2`` values ``~ N(1, σ²)`` are placed evenly over the
    observed part (first and last timestamp included) and joined by a natural cubic spline;
    the series is multiplied by that curve. Um et al. and Iwana & Uchida use σ = 0.2, 4 knots.
    """
    _check_sigma(sigma, "sigma")
    check_int_option(knots, "knots", low=0)
    flat, restore = _flatten(x)
    lengths = observed_lengths(flat)
    values = 1.0 + sigma * torch.randn(flat.shape[0], knots + 2, flat.shape[-1], device=x.device)
    curve = natural_cubic_spline(values, _unit_time(lengths, flat.shape[1]))
    return restore(flat * curve.to(flat.dtype))


def time_warp(x: Tensor, sigma: float, knots: int = 4) -> Tensor:
    """Resample each series along a smooth, monotone random time distortion (Um et al. 2017).

    A random speed curve (``knots + 2`` values ``~ N(1, σ²)`` joined by a natural cubic spline,
    clipped at 0.01) is integrated into warped positions ``p(t)`` that run from 0 to ``L - 1``
    over the observed length ``L``; the output at ``t`` is the input at ``p(t)`` by linear
    interpolation. One warp per series, shared by its channels (they are synchronised; Um et al.
    warp each channel separately). σ = 0 is the identity. Um et al. and Iwana & Uchida use
    σ = 0.2, 4 knots.
    """
    _check_sigma(sigma, "sigma")
    check_int_option(knots, "knots", low=0)
    if sigma == 0:
        return x.clone()
    flat, restore = _flatten(x)
    n, steps, _ = flat.shape
    lengths = observed_lengths(flat)
    values = 1.0 + sigma * torch.randn(n, knots + 2, 1, device=x.device)
    speed = natural_cubic_spline(values, _unit_time(lengths, steps))[..., 0].clamp(min=_MIN_SPEED)
    valid = _valid(lengths, steps)
    increments = torch.where(valid, speed, 0.0)
    increments[:, 0] = 0.0
    elapsed = increments.cumsum(dim=1)  # [N, T], elapsed[:, 0] == 0
    total = elapsed.gather(1, (lengths - 1).clamp(min=0)[:, None])
    span = (lengths - 1).clamp(min=0)[:, None].to(elapsed.dtype)
    positions = torch.where(total > 0, elapsed / total.clamp(min=1e-12) * span, 0.0)
    return restore(_interpolate(flat, positions.minimum(span), lengths, valid))


def window_slice(x: Tensor, ratio: float) -> Tensor:
    """Crop a random window of ``ratio`` of each series' observed length and stretch it back to
    that length by linear interpolation (window slicing, Le Guennec et al. 2016).

    The shape is kept; ``ratio = 1`` is the identity. Le Guennec et al. and Iwana & Uchida use
    ratio 0.9.
    """
    check_float_option(ratio, "ratio", low=0.0, high=1.0, low_open=True)
    flat, restore = _flatten(x)
    n, steps, _ = flat.shape
    lengths = observed_lengths(flat)
    width = (ratio * lengths).round().long().clamp(min=1).minimum(lengths.clamp(min=1))
    start = (torch.rand(n, device=x.device) * (lengths - width + 1).clamp(min=1)).floor()
    stretch = (width - 1).to(torch.float32) / (lengths - 1).clamp(min=1).to(torch.float32)
    t = torch.arange(steps, device=x.device, dtype=torch.float32)
    positions = start[:, None] + t[None, :] * stretch[:, None]
    return restore(_interpolate(flat, positions, lengths, _valid(lengths, steps)))


def random_crop(x: Tensor, length: int, index: Tensor | None = None) -> Tensor:
    """A random window of ``length`` timestamps of each series' observed part, not resized.

    Output ``[B, length, C]`` (or ``[B, D, length, C]``). A series whose observed length is
    shorter than ``length`` is an error naming its row (its data-set position when ``index``,
    the batch's ``"index"``, is given).
    """
    check_int_option(length, "length", low=1)
    flat, restore = _flatten(x)
    n = flat.shape[0]
    lengths = observed_lengths(flat)
    check_long_enough(lengths.reshape(x.shape[0], -1).amin(dim=1), length, "random_crop", index)
    start = (torch.rand(n, device=x.device) * (lengths - length + 1)).floor().long()
    source = start[:, None] + torch.arange(length, device=x.device)[None, :]
    return restore(flat.gather(1, source[..., None].expand(-1, -1, flat.shape[-1])))


def permutation(x: Tensor, max_segments: int = 5) -> Tensor:
    """Cut each series' observed part into ``k ~ U{1..max_segments}`` segments at random
    distinct cut points and concatenate them in a random order (Um et al. 2017; the strong view
    of TS-TCC, Eldele et al. 2021). Every timestamp is kept exactly once; padding stays last.

    Um et al. use a fixed 4 segments; Iwana & Uchida up to 5; TS-TCC up to ``max_seg``
    (8 for HAR). ``k`` is capped by the observed length.
    """
    check_int_option(max_segments, "max_segments", low=1)
    flat, restore = _flatten(x)
    n, steps, channels = flat.shape
    device = flat.device
    lengths = observed_lengths(flat)
    slots = min(max_segments, steps)
    segments = torch.randint(1, slots + 1, (n,), device=device).minimum(lengths.clamp(min=1))
    time = torch.arange(steps, device=device)
    valid = _valid(lengths, steps)
    # Cut points: the (k - 1) candidates in 1..L-1 with the smallest random keys.
    keys = torch.rand(n, steps - 1, device=device)
    keys = torch.where(time[None, 1:] < lengths[:, None], keys, 2.0)
    rank = keys.argsort(dim=1).argsort(dim=1)
    cut = torch.cat([torch.zeros(n, 1, dtype=torch.bool, device=device),
                     rank < (segments - 1)[:, None]], dim=1)
    segment = cut.long().cumsum(dim=1)  # [N, T]: segment id of each timestamp
    seg_len = torch.zeros(n, slots, dtype=torch.long, device=device)
    seg_len.scatter_add_(1, segment, valid.long())
    seg_start = seg_len.cumsum(dim=1) - seg_len
    # A random order of the k real segments (the empty ones sort last).
    order_keys = torch.rand(n, slots, device=device)
    real = torch.arange(slots, device=device)[None] < segments[:, None]
    order_keys = torch.where(real, order_keys, 2.0)
    order = order_keys.argsort(dim=1)  # order[j] = segment placed j-th
    placed_len = seg_len.gather(1, order)
    new_start = torch.zeros_like(seg_len).scatter_(1, order, placed_len.cumsum(dim=1) - placed_len)
    target = new_start.gather(1, segment) + time[None] - seg_start.gather(1, segment)
    target = torch.where(valid, target, time[None])
    out = torch.empty_like(flat).scatter_(1, target[..., None].expand(-1, -1, channels), flat)
    return restore(out)


def timestamp_mask(x: Tensor, ratio: float) -> Tensor:
    """Set each observed timestamp (all its channels) to 0 with probability ``ratio``.

    The binomial timestamp mask of TS2Vec (Yue et al. 2022, Section 3.2, p = 0.5 there, on the
    latent vectors after the input projection); here on the input. Padding stays NaN.
    """
    check_float_option(ratio, "ratio", low=0.0, high=1.0)
    observed = ~torch.isnan(x).all(dim=-1)
    masked = (torch.rand(x.shape[:-1], device=x.device) < ratio) & observed
    return x.masked_fill(masked[..., None], 0.0)


def frequency_mask(x: Tensor, ratio: float) -> Tensor:
    """Zero one random contiguous band of ``round(ratio * F)`` (at least 1) of the
    ``F = T // 2 + 1`` real-FFT bins of each series, then transform back (SpecAugment-style
    band masking, Park et al. 2019, on the spectrum over time; frequency-domain augmentation
    as in TF-C).

    The band is drawn per series and shared by its channels. Padding is read as 0 by the FFT and
    stays NaN in the output, so for padded series the band is one of the padded length's bins.
    """
    check_float_option(ratio, "ratio", low=0.0, high=1.0)
    if ratio == 0:
        return x.clone()
    flat, restore = _flatten(x)
    n, steps, _ = flat.shape
    missing = torch.isnan(flat)
    work = flat if flat.dtype in (torch.float32, torch.float64) else flat.float()
    spectrum = torch.fft.rfft(work.masked_fill(missing, 0.0), dim=1)  # [N, F, C]
    bins = spectrum.shape[1]
    width = min(bins, max(1, round(ratio * bins)))
    start = torch.randint(0, bins - width + 1, (n, 1), device=x.device)
    freq = torch.arange(bins, device=x.device)[None]
    band = (freq >= start) & (freq < start + width)
    out = torch.fft.irfft(spectrum.masked_fill(band[..., None], 0), n=steps, dim=1)
    return restore(out.to(flat.dtype).masked_fill(missing, float("nan")))


# --- helpers ---------------------------------------------------------------------------------


def natural_cubic_spline(values: Tensor, u: Tensor) -> Tensor:
    """Natural cubic spline through ``K`` evenly spaced knots on [0, 1], evaluated at ``u``.

    ``values [N, K, C]`` (knot ``j`` at ``j / (K - 1)``), ``u [N, T]`` in [0, 1] -> ``[N, T, C]``.
    The second derivatives ``M`` solve ``M_{j-1} + 4 M_j + M_{j+1} = 6 (y_{j-1} - 2 y_j +
    y_{j+1}) / h²`` with ``M_0 = M_{K-1} = 0``; on ``[x_j, x_{j+1}]`` with ``s = (u - x_j) / h``,
    ``S = (1-s) y_j + s y_{j+1} + h²/6 [((1-s)³ - (1-s)) M_j + (s³ - s) M_{j+1}]``.
    """
    _, knots, channels = values.shape
    h = 1.0 / (knots - 1)
    second = torch.zeros_like(values)
    if knots > 2:
        inner = knots - 2
        ones = torch.ones(inner - 1, device=values.device, dtype=values.dtype)
        system = 4 * torch.eye(inner, device=values.device, dtype=values.dtype)
        system = system + torch.diag(ones, 1) + torch.diag(ones, -1)
        rhs = 6.0 * (values[:, :-2] - 2 * values[:, 1:-1] + values[:, 2:]) / h**2
        second[:, 1:-1] = torch.linalg.solve(system, rhs)
    scaled = u.clamp(0.0, 1.0) / h
    segment = scaled.floor().long().clamp(0, knots - 2)  # [N, T]
    s = (scaled - segment)[..., None].to(values.dtype)

    def at(t: Tensor, j: Tensor) -> Tensor:
        return t.gather(1, j[..., None].expand(-1, -1, channels))

    y0, y1 = at(values, segment), at(values, segment + 1)
    m0, m1 = at(second, segment), at(second, segment + 1)
    return (1 - s) * y0 + s * y1 + h**2 / 6 * (((1 - s) ** 3 - (1 - s)) * m0 + (s**3 - s) * m1)


def check_long_enough(
    lengths: Tensor, needed: int, what: str, index: Tensor | None = None,
    describe: Callable[[int], str] | None = None,
) -> None:
    """Raise one SelfsupError naming the first series in ``lengths [B]`` shorter than ``needed``.

    The series is named by ``describe(row)`` when given (the data set's own words: "row 7 of
    x"), else by its data-set position from the batch's ``index``, else by its batch row.
    """
    short = (lengths < needed).nonzero()
    if len(short) == 0:
        return
    row = int(short[0, 0])
    where = f"batch row {row}"
    if describe is not None:
        where = describe(row)
    elif index is not None and torch.is_tensor(index) and index.numel() == lengths.numel():
        where = f"sample {int(index.reshape(-1)[row])} (batch row {row})"
    raise SelfsupError(
        f"{what}: the series at {where} has {int(lengths[row])} observed timestamps, shorter "
        f"than the crop of {needed}. Drop or merge series shorter than {needed}, or ask for a "
        "shorter crop."
    )


def sample_lengths(x: Tensor) -> Tensor:
    """Observed length of each sample ``[B]``: a multi-device sample counts its shortest device."""
    lengths = observed_lengths(x)
    return lengths if x.dim() == 3 else lengths.amin(dim=1)


def _flatten(x: Tensor) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """``[B, T, C]`` or ``[B, D, T, C]`` -> ``[N, T, C]`` and the function that undoes it."""
    if not torch.is_tensor(x) or x.dim() not in (3, 4) or not x.is_floating_point():
        got = f"{x.dtype} {list(x.shape)}" if torch.is_tensor(x) else type(x).__name__
        raise SelfsupError(f"time-series augmentations need a float tensor [B, T, C] or "
                           f"[B, D, T, C]; got {got}.")
    lead = x.shape[:-2]

    def restore(out: Tensor) -> Tensor:
        return out.reshape(*lead, out.shape[-2], out.shape[-1])

    return x.reshape(-1, x.shape[-2], x.shape[-1]), restore


def _unit_time(lengths: Tensor, steps: int) -> Tensor:
    """``t / (L - 1)`` for every timestamp, clipped to [0, 1]: ``[N]`` -> ``[N, T]``."""
    t = torch.arange(steps, device=lengths.device, dtype=torch.float32)[None]
    return (t / (lengths - 1).clamp(min=1)[:, None].to(torch.float32)).clamp(0.0, 1.0)


def _valid(lengths: Tensor, steps: int) -> Tensor:
    return torch.arange(steps, device=lengths.device)[None] < lengths[:, None]


def _interpolate(x: Tensor, positions: Tensor, lengths: Tensor, valid: Tensor) -> Tensor:
    """Linear interpolation of ``x [N, T, C]`` at ``positions [N, T']`` within each observed
    part (indices clipped to ``L - 1``); outputs where ``valid`` is False are NaN."""
    channels = x.shape[-1]
    last = (lengths - 1).clamp(min=0)[:, None]
    left = positions.floor().long().clamp(min=0).minimum(last)
    right = (left + 1).minimum(last)
    weight = (positions - left).clamp(0.0, 1.0)[..., None].to(x.dtype)
    x_left = x.gather(1, left[..., None].expand(-1, -1, channels))
    x_right = x.gather(1, right[..., None].expand(-1, -1, channels))
    out = x_left + weight * (x_right - x_left)
    return out.masked_fill(~valid[..., None], float("nan"))


def _check_sigma(sigma: float | Tensor, name: str) -> None:
    if torch.is_tensor(sigma):
        if (sigma < 0).any():
            raise SelfsupError(f"{name} must be ≥ 0; got a tensor with negative entries.")
        return
    check_float_option(sigma, name, low=0.0, high=float("inf"))


def check_float_option(value: float, name: str, low: float, high: float, low_open: bool = False) -> None:
    """Refuse (SelfsupError naming ``name``) a ``value`` that is not a number in ``[low, high]`` (``(low, high]`` when ``low_open``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
    if not ok or (low_open and value == low):
        bracket = "(" if low_open else "["
        raise SelfsupError(f"{name} must be a number in {bracket}{low}, {high}]; got {value!r}.")


def check_int_option(value: int, name: str, low: int) -> None:
    """Refuse (SelfsupError naming ``name``) a ``value`` that is not an integer ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SelfsupError(f"{name} must be an integer ≥ {low}; got {value!r}.")


def series_of(data: Any) -> Tensor:
    """The series tensor ``[N, (D,) T, C]`` of a training split: an :class:`ArrayDataset`'s
    ``x``, or the tensor itself (what :meth:`ViewMaker.check_data` may receive)."""
    return data.x if hasattr(data, "x") else data

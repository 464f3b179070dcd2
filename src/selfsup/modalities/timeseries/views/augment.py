"""Batched time-series view makers: ``ts_augment`` (modality default), ``tstcc``, ``ts2vec_crops``.

Inputs are float ``x [B, T, C]`` or ``[B, D, T, C]`` (D synchronised devices), NaN-padded at
the end for variable-length series (see :mod:`selfsup.modalities.timeseries.views.ops`, which holds the ops as
plain functions). Every view maker works on the batch's device with per-sample random
parameters from torch's global generator, and never spreads NaN padding into observed
timestamps. Views carry the batch's other keys (``"y"``, ``"index"``, ``"group"``) unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.views import ops as ts_ops
from selfsup.modalities.timeseries.views.ops import (
    check_float_option,
    check_int_option,
    frequency_mask,
    jitter,
    magnitude_warp,
    permutation,
    random_crop,
    scaling,
    time_warp,
    timestamp_mask,
    window_slice,
)
from selfsup.registry import VIEWS
from selfsup.views.base import ViewMaker

__all__ = ["TSTCCViews", "TimeSeriesViews", "check_series", "series_shape", "ts_ops"]


@VIEWS.register(
    "ts_augment",
    modality="timeseries",
    paper="Um et al. 2017 (jitter, scaling, magnitude/time warp, permutation); Le Guennec et "
    "al. 2016 (window slicing); strengths from Iwana & Uchida 2021",
    description="window slicing, time warp, scaling and jitter (magnitude warp, crop, "
    "permutation, timestamp and frequency masking available by keyword)",
)
class TimeSeriesViews(ViewMaker):
    """A chain of time-series augmentations, each applied to a sample with its own probability.

    Order: random crop → window slicing → time warp → permutation → magnitude warp → scaling →
    frequency-band mask → jitter → timestamp mask (time moves first, then amplitude, then noise
    and masking). Every view is a fresh draw of the same chain.

    **Paper defaults vs. library defaults.** The strengths are the defaults of Iwana & Uchida
    2021 ("An empirical survey of data augmentation for time series classification with neural
    networks", run on all 128 UCR sets), who took them from the original papers: jitter
    σ = 0.03, scaling σ = 0.1, magnitude and time warp σ = 0.2 with 4 knots (Um et al. 2017),
    window slicing 90 % (Le Guennec et al. 2016), permutation into up to 5 segments. Those
    papers apply one op per training copy; a contrastive view needs several, so the library
    applies jitter and scaling always and window slicing and time warp each with probability
    0.5 (two views then differ in noise and amplitude and, usually, timing). Magnitude warp,
    permutation and the masks are off by default: permutation breaks the temporal order that
    shape-based UCR classes depend on, and the masks are TS2Vec/TF-C ingredients rather than
    HAR defaults; turn any of them on by its ``*_p`` keyword. ``jitter_sigma`` is in units of
    each channel's standard deviation in the batch (``jitter_relative=True``), so 0.03 means
    σ = 0.03 on z-normalised UCR series and the same relative noise on raw sensor units.

    Args:
        input_shape: ``(T, C)`` or ``(D, T, C)``; batches must have the same C (and D); their
            T may differ (a crop upstream).
        jitter_sigma, jitter_p: additive noise σ and per-sample probability.
        jitter_relative: σ relative to each channel's std over the batch (else absolute).
        scaling_sigma, scaling_p: per-channel factor ~ N(1, σ²).
        magnitude_warp_sigma, magnitude_warp_knots, magnitude_warp_p: smooth amplitude curve.
        time_warp_sigma, time_warp_knots, time_warp_p: smooth monotone time distortion.
        window_slice_ratio, window_slice_p: crop ``ratio`` of the length, stretched back.
        crop_length: if set, every view is a random window of this many timestamps (not
            resized; output ``[B, crop_length, C]``); a shorter series is an error naming it.
        permutation_max_segments, permutation_p: shuffle up to this many random segments.
        timestamp_mask_ratio, timestamp_mask_p: zero each timestamp with this probability.
        frequency_mask_ratio, frequency_mask_p: zero a random band of this fraction of the
            real-FFT bins.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        jitter_sigma: float = 0.03,
        jitter_p: float = 1.0,
        jitter_relative: bool = True,
        scaling_sigma: float = 0.1,
        scaling_p: float = 1.0,
        magnitude_warp_sigma: float = 0.2,
        magnitude_warp_knots: int = 4,
        magnitude_warp_p: float = 0.0,
        time_warp_sigma: float = 0.2,
        time_warp_knots: int = 4,
        time_warp_p: float = 0.5,
        window_slice_ratio: float = 0.9,
        window_slice_p: float = 0.5,
        crop_length: int | None = None,
        permutation_max_segments: int = 5,
        permutation_p: float = 0.0,
        timestamp_mask_ratio: float = 0.1,
        timestamp_mask_p: float = 0.0,
        frequency_mask_ratio: float = 0.1,
        frequency_mask_p: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_shape = series_shape(input_shape, type(self).__name__)
        for name, value in {
            "jitter_sigma": jitter_sigma, "scaling_sigma": scaling_sigma,
            "magnitude_warp_sigma": magnitude_warp_sigma, "time_warp_sigma": time_warp_sigma,
        }.items():
            check_float_option(value, name, low=0.0, high=float("inf"))
        for name, value in {
            "jitter_p": jitter_p, "scaling_p": scaling_p, "magnitude_warp_p": magnitude_warp_p,
            "time_warp_p": time_warp_p, "window_slice_p": window_slice_p,
            "permutation_p": permutation_p, "timestamp_mask_p": timestamp_mask_p,
            "frequency_mask_p": frequency_mask_p, "timestamp_mask_ratio": timestamp_mask_ratio,
            "frequency_mask_ratio": frequency_mask_ratio,
        }.items():
            check_float_option(value, name, low=0.0, high=1.0)
        check_float_option(window_slice_ratio, "window_slice_ratio", low=0.0, high=1.0, low_open=True)
        check_int_option(magnitude_warp_knots, "magnitude_warp_knots", low=0)
        check_int_option(time_warp_knots, "time_warp_knots", low=0)
        check_int_option(permutation_max_segments, "permutation_max_segments", low=1)
        if not isinstance(jitter_relative, bool):
            raise SelfsupError(f"jitter_relative must be true or false; got {jitter_relative!r}.")
        steps = self.input_shape[-2]
        if crop_length is not None:
            check_int_option(crop_length, "crop_length", low=1)
            if crop_length > steps:
                raise SelfsupError(f"crop_length={crop_length} is longer than the series "
                                   f"(T = {steps}); use crop_length ≤ {steps}.")
        self.crop_length = crop_length
        self.jitter_relative = jitter_relative
        # (op, probability, keywords) in the order they are applied; ops with probability 0 are
        # left out. Plain data, not closures, so the view maker pickles (DDP spawn).
        chain = [
            ("window_slice", window_slice_p, {"ratio": window_slice_ratio}),
            ("time_warp", time_warp_p, {"sigma": time_warp_sigma, "knots": time_warp_knots}),
            ("permutation", permutation_p, {"max_segments": permutation_max_segments}),
            ("magnitude_warp", magnitude_warp_p,
             {"sigma": magnitude_warp_sigma, "knots": magnitude_warp_knots}),
            ("scaling", scaling_p, {"sigma": scaling_sigma}),
            ("frequency_mask", frequency_mask_p, {"ratio": frequency_mask_ratio}),
            ("jitter", jitter_p, {"sigma": jitter_sigma}),
            ("timestamp_mask", timestamp_mask_p, {"ratio": timestamp_mask_ratio}),
        ]
        self.chain = [(name, p, kw) for name, p, kw in chain if p > 0]

    def _run_op(self, name: str, x: Tensor, kw: dict[str, Any]) -> Tensor:
        if name == "jitter":
            return jitter(x, self._noise_scale(x, kw["sigma"]))
        return _OPS[name](x, **kw)

    def _noise_scale(self, x: Tensor, sigma: float) -> float | Tensor:
        """``sigma``, times each channel's std over the batch when ``jitter_relative``."""
        if not self.jitter_relative:
            return sigma
        dims = (0, x.dim() - 2)  # samples and time
        mean = torch.nanmean(x, dim=dims, keepdim=True)
        std = torch.nanmean((x - mean) ** 2, dim=dims, keepdim=True).sqrt()
        return sigma * torch.nan_to_num(std, nan=0.0)

    def augment(self, x: Tensor, i: int, index: Tensor | None = None) -> Tensor:
        """One view of ``x [B, T, C]`` / ``[B, D, T, C]``; ``index`` only names bad series."""
        check_series(x, self.input_shape, type(self).__name__)
        with torch.no_grad():
            out = x if self.crop_length is None else random_crop(x, self.crop_length, index)
            for name, p, kw in self.chain:
                out = _with_probability(out, self._run_op(name, out, kw), p)
            return out if out is not x else x.clone()

    def check_data(self, data: Any, describe: Callable[[int], str]) -> None:
        if self.crop_length is not None:
            ts_ops.check_long_enough(
                ts_ops.sample_lengths(ts_ops.series_of(data)), self.crop_length, "random_crop", describe=describe
            )

    def forward(self, batch: dict[str, Any], n: int = 2) -> list[dict[str, Any]]:
        index = batch.get("index")
        return [{**batch, "x": self.augment(batch["x"], i, index)} for i in range(n)]

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, chain={[name for name, _, _ in self.chain]}"


@VIEWS.register(
    "tstcc",
    modality="timeseries",
    paper="Eldele et al. 2021, Time-Series Representation Learning via Temporal and Contextual "
    "Contrasting (TS-TCC), Section 3.1",
    description="even views weak (jitter-and-scale), odd views strong (permutation + jitter)",
)
class TSTCCViews(ViewMaker):
    """TS-TCC's weak/strong pair (Eldele et al. 2021, Section 3.1 "Time-Series Data Augmentation").

    * weak (even view index), "jitter-and-scale": ``x · ε`` with ``ε ~ N(scale_mean,
      scale_sigma²)`` drawn per (sample, timestamp) and shared by the channels - the official
      code's ``scaling``, which both scales the magnitude up (×2 on average) and adds random
      variation;
    * strong (odd view index), "permutation-and-jitter":
      :func:`~selfsup.modalities.timeseries.views.ops.permutation` into up to ``max_segments`` random segments,
      then :func:`~selfsup.modalities.timeseries.views.ops.jitter` with σ = ``jitter_sigma``.

    **Paper defaults vs. library defaults.** The defaults are the UCI-HAR configuration of the
    official code (``config_files/HAR_Configs.py``: ``jitter_scale_ratio`` 1.1 → ``scale_sigma``,
    ``jitter_ratio`` 0.8 → ``jitter_sigma``, ``max_seg`` 8 → ``max_segments``; the scaling mean 2
    is in ``dataloader/augmentations.py``). Sleep-EDF uses 1.5 / 2 / 12 and Epilepsy
    0.001 / 0.001 / 5. Differences from the code, which only fix its slips: the number of
    segments is drawn from 1..``max_segments`` as the paper says ("a maximum of M"; the code's
    ``randint(1, max_seg)`` stops at M - 1), and permutation moves every channel (the code copies
    channel 0 into all channels). Jitter is absolute, as in the paper: standardise the data.

    The strengths are in the data's units, and the paper's are in raw sensor units: HAR's
    σ = 0.8 jitter and per-timestamp N(2, 1.1²) factors are several times the spread of a
    z-normalised series. On UCR GunPoint (z-normalised) they bury the differences between
    samples at one position, and TS-TCC's temporal loss stays at chance (2 log B);
    ``scale_sigma=0.1, jitter_sigma=0.03, max_segments=5`` (Iwana & Uchida 2021's scaling and
    jitter σ for z-normalised series, Epilepsy's segments) let it learn
    (``configs/tstcc_gunpoint.yaml``).

    Args:
        input_shape: ``(T, C)`` or ``(D, T, C)``.
        scale_mean, scale_sigma: the weak view's multiplicative factor ~ N(mean, sigma²).
        jitter_sigma: the strong view's additive noise σ.
        max_segments: the strong view's largest number of permuted segments.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        scale_mean: float = 2.0,
        scale_sigma: float = 1.1,
        jitter_sigma: float = 0.8,
        max_segments: int = 8,
    ) -> None:
        super().__init__()
        self.input_shape = series_shape(input_shape, type(self).__name__)
        check_float_option(scale_mean, "scale_mean", low=-float("inf"), high=float("inf"))
        check_float_option(scale_sigma, "scale_sigma", low=0.0, high=float("inf"))
        check_float_option(jitter_sigma, "jitter_sigma", low=0.0, high=float("inf"))
        check_int_option(max_segments, "max_segments", low=1)
        self.scale_mean, self.scale_sigma = float(scale_mean), float(scale_sigma)
        self.jitter_sigma, self.max_segments = float(jitter_sigma), max_segments

    def weak(self, x: Tensor) -> Tensor:
        """``x · ε``, ``ε ~ N(scale_mean, scale_sigma²)`` per (sample, [device,] timestamp)."""
        factor = torch.randn(*x.shape[:-1], 1, device=x.device, dtype=x.dtype)
        return x * (self.scale_mean + self.scale_sigma * factor)

    def strong(self, x: Tensor) -> Tensor:
        """Segment permutation (up to ``max_segments``) followed by jitter."""
        return jitter(permutation(x, self.max_segments), self.jitter_sigma)

    def augment(self, x: Tensor, i: int) -> Tensor:
        """View ``i``: weak when ``i`` is even, strong when odd."""
        check_series(x, self.input_shape, type(self).__name__)
        with torch.no_grad():
            return self.weak(x) if i % 2 == 0 else self.strong(x)

    def extra_repr(self) -> str:
        return (f"input_shape={self.input_shape}, scale=N({self.scale_mean}, {self.scale_sigma}²), "
                f"jitter_sigma={self.jitter_sigma}, max_segments={self.max_segments}")


def series_shape(input_shape: Sequence[int], who: str) -> tuple[int, ...]:
    """Validate ``(T, C)`` / ``(D, T, C)``."""
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise SelfsupError(
            f"{who} needs time-series input of shape (T, C) or (D, T, C); got {input_shape!r}. "
            "Use views for your data's modality."
        )
    return shape


def check_series(x: Any, input_shape: tuple[int, ...], who: str) -> None:
    """``x`` must be a float tensor ``[B, *input_shape]`` up to its time length."""
    ok = (torch.is_tensor(x) and x.dim() == len(input_shape) + 1
          and x.shape[-1] == input_shape[-1] and x.shape[1:-2] == input_shape[:-2])
    if not ok:
        got = list(x.shape) if torch.is_tensor(x) else type(x).__name__
        layout = "T, C" if len(input_shape) == 2 else "D, T, C"
        raise SelfsupError(
            f"{who} was built for series of shape {list(input_shape)} ({layout}) but got "
            f"a batch {got}; build the views with the data's input_shape."
        )
    if not x.is_floating_point():
        raise SelfsupError(f"{who} needs a float tensor, got {x.dtype}.")


_OPS = {
    "window_slice": window_slice, "time_warp": time_warp, "permutation": permutation,
    "magnitude_warp": magnitude_warp, "scaling": scaling, "frequency_mask": frequency_mask,
    "timestamp_mask": timestamp_mask,
}


def _with_probability(x: Tensor, out: Tensor, p: float) -> Tensor:
    """``out`` for a random fraction ``p`` of the series (per sample, or per (sample, device)),
    ``x`` for the others."""
    if p >= 1.0:
        return out
    apply = torch.rand(x.shape[:-2], device=x.device) < p
    return torch.where(apply[..., None, None], out, x)

"""The audio view makers: ``audio_augment`` (the modality default, for the catalogue's two-view
methods) and ``byol_a`` (BYOL-A's log-mel augmentations). The ops are in
:mod:`selfsup.modalities.audio.views.ops`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from selfsup.errors import SelfsupError
from selfsup.modalities.audio.data.source import AudioSpec
from selfsup.modalities.audio.frontend import N_MELS, LogMel, lengths, normalize_clips
from selfsup.modalities.audio.views import ops
from selfsup.registry import VIEWS
from selfsup.views.base import ViewMaker


def _pair(value: Any, name: str, views: str, low: float = 0.0) -> tuple[float, float]:
    if (isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            and low <= value[0] <= value[1]):
        return float(value[0]), float(value[1])
    raise SelfsupError(f"Option {name} of views {views!r} must be [low, high] with {low} <= low <= high; "
                       f"got {value!r}.")


def _number(value: Any, name: str, views: str, low: float = 0.0, high: float = float("inf")) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise SelfsupError(f"Option {name} of views {views!r} must be a number in [{low}, {high}]; got {value!r}.")
    return float(value)


def _spec(spec: Any, views: str) -> AudioSpec:
    if not isinstance(spec, AudioSpec):
        raise SelfsupError(f"Views {views!r} make views of audio; the data is described by {spec!r}.")
    return spec


@VIEWS.register(
    "audio_augment", modality="audio",
    paper="Park et al. 2019 (SpecAugment); Ko et al. 2015 (speed perturbation)",
    description="random crop, speed, gain, noise at a sampled SNR, time shift (waveforms), then "
    "log-mel with SpecAugment time/frequency masks",
)
class AudioViews(ViewMaker):
    """Random crop -> speed perturbation -> gain -> additive noise -> time shift on waveforms,
    then (when any mask is asked for) the log-mel with SpecAugment masks. On features (MFCC
    data) the crop, the shift and the masks apply.

    Args:
        spec: the data's :class:`AudioSpec`.
        crop_scale: crop length as a fraction of each clip's own length.
        crop_seconds: a fixed crop length instead (a clip shorter than it is refused before
            training, by name).
        speed: playback-rate range (``[1, 1]`` turns it off).
        gain_db: gain range ``±gain_db``.
        snr_db: noise SNR range in dB.
        shift: circular time shift, up to this fraction of the clip.
        time_masks / freq_masks: SpecAugment masks per clip (0 and 0: the views stay waveforms,
            for waveform encoders such as ``wav2vec_transformer``).
        time_mask_width / freq_mask_width: largest mask, as a fraction of frames / bins.
        n_mels: bands of the log-mel (the encoder's ``n_mels``).
    """

    def __init__(self, spec: AudioSpec, crop_scale=(0.6, 1.0), crop_seconds: float | None = None,
                 speed=(0.9, 1.1), gain_db: float = 6.0, snr_db=(10.0, 40.0), shift: float = 0.1,
                 time_masks: int = 2, time_mask_width: float = 0.1, freq_masks: int = 2,
                 freq_mask_width: float = 0.15, n_mels: int = N_MELS) -> None:
        super().__init__()
        name = "audio_augment"
        self.spec = _spec(spec, name)
        self.crop_scale = _pair(crop_scale, "crop_scale", name)
        if self.crop_scale[0] <= 0 or self.crop_scale[1] > 1:
            raise SelfsupError(f"Option crop_scale of views {name!r} must lie in (0, 1]; got {crop_scale!r}.")
        self.crop_seconds = None if crop_seconds is None else _number(crop_seconds, "crop_seconds", name, 1e-3)
        self.speed = _pair(speed, "speed", name, 0.1)
        self.gain_db = _number(gain_db, "gain_db", name)
        self.snr_db = _pair(snr_db, "snr_db", name, -100.0)
        self.shift = _number(shift, "shift", name, 0.0, 1.0)
        self.time_masks = int(_number(time_masks, "time_masks", name, 0, 100))
        self.freq_masks = int(_number(freq_masks, "freq_masks", name, 0, 100))
        self.time_mask_width = _number(time_mask_width, "time_mask_width", name, 0.0, 1.0)
        self.freq_mask_width = _number(freq_mask_width, "freq_mask_width", name, 0.0, 1.0)
        masks = self.time_masks or self.freq_masks
        self.logmel = LogMel(spec.sample_rate, int(_number(n_mels, "n_mels", name, 1))) if spec.waveform and masks else None

    @property
    def crop_size(self) -> int | None:
        """Crop length in the clips' own steps (samples, or 10 ms feature frames)."""
        if self.crop_seconds is None:
            return None
        rate = self.spec.sample_rate if self.spec.waveform else 100
        return max(1, round(self.crop_seconds * rate))

    def check_data(self, data: Any, describe: Callable[[int], str]) -> None:
        size = self.crop_size
        if size is None or not hasattr(data, "x"):
            return
        n = lengths(data.x)
        short = torch.nonzero(n < size).flatten()
        if len(short):
            i = int(short[0])
            name = getattr(data, "describe_clip", lambda i: None)(i) or describe(i)
            raise SelfsupError(
                f"{len(short)} clips are shorter than the crop of {self.crop_seconds} s ({size} steps), "
                f"the first {name} ({int(n[i])} steps). Lower views.crop_seconds, or leave it unset to "
                "crop a fraction of each clip (views.crop_scale).")

    def augment(self, x: Tensor, i: int) -> Tensor:
        x = ops.random_crop(x, self.crop_scale, self.crop_size)
        if self.spec.waveform:
            if self.speed != (1.0, 1.0):
                x = ops.speed(x, self.speed)
            x = ops.add_noise(ops.gain(x, self.gain_db), self.snr_db)
        if self.shift:
            x = ops.time_shift(x, self.shift)
        if self.logmel is not None:
            x = self.logmel.to(x.device)(x)
        if x.dim() == 3 and (self.time_masks or self.freq_masks):
            x = ops.spec_masks(x, self.time_masks, self.time_mask_width, self.freq_masks, self.freq_mask_width)
        return x


@VIEWS.register(
    "byol_a", modality="audio", paper="Niizumi et al. 2021, BYOL for Audio (Section III-C); 2023 (v2)",
    description="BYOL-A: standardised log-mel, mixup with another clip, random resize crop (frequency "
    "only by default), linear fader",
)
class BYOLAViews(ViewMaker):
    """BYOL-A's augmentation module: log-mel (from waveforms; features are used as they are),
    standardised per clip (the paper's pre-normalisation, over the data set there), then
    log-mixup-exp (ratio 0.4), random resize crop and the random linear fader of BYOL-A v2
    (gain ±1). The encoder standardises each view again (the paper's post-normalisation).

    Random resize crop: paper (Niizumi et al. 2021, Section III-C and its code) a virtual canvas of
    1.0 x 1.5 (bins x frames) and crops of 0.6-1.5 on each axis. **Defaults here: the frequency
    crop as the paper (``freq_scale`` 0.6-1.5, canvas 1.0), no time crop** (``time_scale`` 1-1,
    canvas 1.0). The paper's unit is a 1-s segment of longer audio; a clip of ``spoken_words`` *is*
    one word, so a time crop of 0.6 of it at a uniform place on a 1.5 canvas keeps as little as a
    third of the word, and the two views then share the speaker, the pitch and the noise more than
    the word. Measured (log-mel CNN of 16 channels, batch 64, Adam lr 3e-4, seed 0): with the
    paper's time crop word kNN falls below the random-init encoder's 0.719 within 40 steps
    (0.63-0.66 after 80-120 steps, also at lr 1e-3, with time crops 1.0-1.5, or without mixup or
    fader); without it kNN stays above it (0.73-0.76 over 50-200 steps). Set ``time_scale: [0.6,
    1.5]`` and ``virtual_crop_scale: [1.0, 1.5]`` for the paper's crop on longer audio.

    Args:
        spec: the data's :class:`AudioSpec`.
        mixup_ratio: largest mixing weight of the other clip (paper 0.4).
        virtual_crop_scale: canvas of the crop, ``[bins, frames]`` times the clip's.
        freq_scale / time_scale: crop size range on each axis, times the clip's.
        fader_gain: range of the fader's end points, ``±fader_gain`` (v2: 1; 0 turns it off).
        n_mels: bands of the log-mel (the encoder's ``n_mels``).
    """

    def __init__(self, spec: AudioSpec, mixup_ratio: float = 0.4, virtual_crop_scale=(1.0, 1.0),
                 freq_scale=(0.6, 1.5), time_scale=(1.0, 1.0), fader_gain: float = 1.0,
                 n_mels: int = N_MELS) -> None:
        super().__init__()
        name = "byol_a"
        self.spec = _spec(spec, name)
        self.mixup_ratio = _number(mixup_ratio, "mixup_ratio", name, 0.0, 1.0)
        self.virtual_crop_scale = _pair(virtual_crop_scale, "virtual_crop_scale", name, 1.0)
        self.freq_scale = _pair(freq_scale, "freq_scale", name, 0.01)
        self.time_scale = _pair(time_scale, "time_scale", name, 0.01)
        self.fader_gain = _number(fader_gain, "fader_gain", name)
        self.logmel = LogMel(spec.sample_rate, int(_number(n_mels, "n_mels", name, 1))) if spec.waveform else None

    def augment(self, x: Tensor, i: int) -> Tensor:
        if self.logmel is not None:
            x = self.logmel.to(x.device)(x)
        features, valid = normalize_clips(x)
        x = features.masked_fill(~valid[:, None], float("nan"))
        if self.mixup_ratio:
            x = ops.log_mixup_exp(x, self.mixup_ratio)
        x = ops.random_resize_crop(x, self.virtual_crop_scale, self.freq_scale, self.time_scale)
        return ops.linear_fader(x, self.fader_gain) if self.fader_gain else x

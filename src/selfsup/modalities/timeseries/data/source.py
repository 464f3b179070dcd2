"""How series arrays become a :class:`~selfsup.data.base.DataSource`: the typed input spec
(:class:`SeriesSpec`) and, for multi-subject sets, the subject of every window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from selfsup.data.base import DataBundle, DataSource


class SeriesSpec(tuple):
    """One sample's shape — ``(T, C)``, or ``(D, T, C)`` for ``D`` synchronised devices — with
    the names the reader found.

    A tuple (the shape), so encoders and views that take a shape take it unchanged.

    Attributes:
        length: timestamps ``T`` (the padded length when series differ in length).
        channels: channels ``C`` per device.
        devices: device names, or None for single-device series.
        channel_names: channel names (CSV columns), or None.
        sample_rate_hz: sampling rate when the source knows it.
    """

    length: int
    channels: int
    devices: list[str] | None
    channel_names: list[str] | None
    sample_rate_hz: float | None

    def __new__(
        cls,
        length: int,
        channels: int,
        devices: list[str] | None = None,
        channel_names: list[str] | None = None,
        sample_rate_hz: float | None = None,
    ) -> SeriesSpec:
        shape = (len(devices), length, channels) if devices else (length, channels)
        spec = super().__new__(cls, (int(s) for s in shape))
        spec.length, spec.channels = int(length), int(channels)
        spec.devices = list(devices) if devices else None
        spec.channel_names = list(channel_names) if channel_names else None
        spec.sample_rate_hz = sample_rate_hz
        return spec

    @classmethod
    def of(cls, x: torch.Tensor, meta: dict[str, Any]) -> SeriesSpec:
        devices = meta.get("devices") if x.ndim == 4 else None
        if x.ndim == 4 and not devices:
            devices = [f"device{d}" for d in range(x.shape[1])]
        return cls(x.shape[-2], x.shape[-1], devices, meta.get("channels"), meta.get("sample_rate_hz"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_shape": list(self),
            "devices": self.devices,
            "channel_names": self.channel_names,
            "sample_rate_hz": self.sample_rate_hz,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesSpec:
        shape = [int(s) for s in data["input_shape"]]
        devices = data.get("devices") or ([f"device{d}" for d in range(shape[0])] if len(shape) == 3 else None)
        return cls(shape[-2], shape[-1], devices, data.get("channel_names"), data.get("sample_rate_hz"))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (self.length, self.channels, self.devices, self.channel_names, self.sample_rate_hz)


@dataclass
class SeriesSource(DataSource):
    """A time-series DataSource; multi-subject sets also say whose each window is (for splits
    and per-subject evaluation)."""

    subject_train: torch.Tensor | None = None
    subject_test: torch.Tensor | None = None


def series_source(bundle: DataBundle) -> SeriesSource:
    """The DataSource of series ``[N, T, C]`` / ``[N, D, T, C]`` (NaN marks padding)."""
    meta = bundle.meta
    source = bundle.to_source(
        SeriesSpec.of(bundle.x_train, meta),
        source_type=SeriesSource,
        subject_train=meta.get("subject_train"),
        subject_test=meta.get("subject_test"),
    )
    if source.input_spec.length == 1:
        source.notes.append(
            f"The series of {bundle.name!r} have a single time step: crops, masks and contexts need "
            "several, so pretraining can learn nothing a random encoder does not have. Check the "
            "array's layout (series are [N, T, C])."
        )
    return source

"""How audio arrays become a :class:`~selfsup.data.base.DataSource`: the typed input spec
(:class:`AudioSpec`) and the dataset that remembers which file each clip came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from selfsup.data.base import ArrayDataset, DataBundle, DataSource


@dataclass(frozen=True)
class AudioSpec:
    """One clip as the encoders and views see it.

    Attributes:
        sample_rate: Hz of the waveforms (or of the audio the features were computed from).
        length: padded length of a clip: samples for waveforms, frames for features.
        features: ``None`` when clips are waveforms ``[T]``; else the number of feature bins
            ``F`` of clips stored as ``[F, T]`` (``fsdd_mfcc``: 13 MFCCs).
        feature_name: what the features are (``"mfcc"``), for messages.
    """

    sample_rate: int
    length: int
    features: int | None = None
    feature_name: str | None = None

    @property
    def waveform(self) -> bool:
        return self.features is None

    def to_dict(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate, "length": self.length, "features": self.features,
                "feature_name": self.feature_name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioSpec:
        return cls(int(data["sample_rate"]), int(data["length"]), data.get("features"),
                   data.get("feature_name"))


class ClipDataset(ArrayDataset):
    """An :class:`ArrayDataset` of NaN-padded clips that knows the file (or row) of each clip, so
    a view that cannot handle a clip names it (``describe_clip``)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, names: list[str] | None) -> None:
        super().__init__(x, y)
        self.names = names

    def describe_clip(self, i: int) -> str | None:
        return self.names[i] if self.names else None


def audio_source(bundle: DataBundle, spec: AudioSpec) -> DataSource:
    """The DataSource of NaN-padded clips ``[N, T]`` (waveforms) or ``[N, F, T]`` (features);
    ``bundle.meta["names"]`` (file of each clip of ``cat(x_train, x_test)``, in that order) lets
    views name a clip; ``bundle.meta["segment_labels"]`` (same order), when there, becomes the
    source's ``segment_labels`` (phones)."""
    source = bundle.to_source(spec, segment_labels=bundle.meta.get("segment_labels"))
    names = bundle.meta.get("names")
    n_train = len(bundle.x_train)
    source.train = ClipDataset(bundle.x_train, bundle.y_train, names[:n_train] if names else None)
    if bundle.x_test is not None:
        source.test = ClipDataset(bundle.x_test, bundle.y_test, names[n_train:] if names else None)
    return source

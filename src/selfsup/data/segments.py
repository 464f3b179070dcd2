"""Labels of stretches of time inside each sample (:class:`SegmentLabels`): the phones of spoken
words, for the measures made frame by frame (unit purity and PNMI, :mod:`selfsup.units`).

A data source carries them as time segments rather than one label per input step: a phone lasts
thousands of audio samples, and the frames that are measured are made by the encoder, whose
frame positions only it knows (see :func:`selfsup.units.features.frame_centres`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from selfsup.errors import SelfsupError


@dataclass(frozen=True)
class SegmentLabels:
    """Labelled segments of the time axis of ``N`` samples.

    Sample ``i`` owns segments ``offsets[i]:offsets[i + 1]``, in time order and not overlapping;
    segment ``s`` covers input steps ``[starts[s], ends[s])`` (audio: samples at the data's rate;
    features: their frames) and has label ``ids[s]``, an index into ``classes``. A position no
    segment covers has no label (``-1``), as has every position of a sample with no segments.

    Attributes:
        name: what the labels are (``"phone"``); measures made against them say so.
        classes: the label names (``ids`` index them).
        starts / ends: float64 ``[M]``.
        ids: int64 ``[M]``.
        offsets: int64 ``[N + 1]``.
    """

    name: str
    classes: tuple[str, ...]
    starts: np.ndarray
    ends: np.ndarray
    ids: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        for field, dtype in (("starts", np.float64), ("ends", np.float64), ("ids", np.int64), ("offsets", np.int64)):
            object.__setattr__(self, field, np.asarray(getattr(self, field), dtype=dtype))
        m = len(self.starts)
        if self.ends.shape != (m,) or self.ids.shape != (m,) or self.offsets.ndim != 1 or len(self.offsets) < 1 \
                or self.offsets[0] != 0 or self.offsets[-1] != m or (np.diff(self.offsets) < 0).any():
            raise SelfsupError(f"{self.name} segments: starts, ends and ids must have one entry per segment and "
                               "offsets [N + 1] must rise from 0 to their number.")
        if m and ((self.ids < 0).any() or self.ids.max() >= len(self.classes)):
            raise SelfsupError(f"{self.name} segments: ids must index the {len(self.classes)} classes.")
        if (self.ends <= self.starts).any():
            raise SelfsupError(f"{self.name} segments: every segment must end after it starts.")
        same_sample = np.ones(max(m - 1, 0), dtype=bool)
        same_sample[self.offsets[1:-1][(self.offsets[1:-1] > 0) & (self.offsets[1:-1] < m)] - 1] = False
        if (self.starts[1:][same_sample] < self.ends[:-1][same_sample]).any():
            raise SelfsupError(f"{self.name} segments: the segments of a sample must be in time order, "
                               "without overlap.")

    @property
    def num_samples(self) -> int:
        return len(self.offsets) - 1

    def take(self, rows: Sequence[int] | np.ndarray) -> SegmentLabels:
        """The segments of samples ``rows``, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        counts = (self.offsets[1:] - self.offsets[:-1])[rows]
        picked = np.concatenate([np.arange(self.offsets[r], self.offsets[r + 1]) for r in rows]) if len(rows) \
            else np.zeros(0, dtype=np.int64)
        return SegmentLabels(self.name, self.classes, self.starts[picked], self.ends[picked], self.ids[picked],
                             np.concatenate([[0], np.cumsum(counts)]))

    def at(self, sample: int, positions: np.ndarray) -> np.ndarray:
        """int64 label of sample ``sample`` at each of ``positions`` (input steps), ``-1`` where no
        segment covers it."""
        a, b = self.offsets[sample], self.offsets[sample + 1]
        starts, ends, ids = self.starts[a:b], self.ends[a:b], self.ids[a:b]
        positions = np.asarray(positions, dtype=np.float64)
        if b == a:
            return np.full(positions.shape, -1, dtype=np.int64)
        index = np.searchsorted(starts, positions, side="right") - 1  # the last segment starting at or before
        safe = index.clip(0)
        return np.where((index >= 0) & (positions < ends[safe]), ids[safe], -1)

"""TS2Vec's overlapping crops (Yue et al. 2022, Section 3.2, "contextual consistency")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.views.augment import check_series, series_shape
from selfsup.modalities.timeseries.views.ops import (
    check_int_option,
    check_long_enough,
    sample_lengths,
    series_of,
)
from selfsup.registry import VIEWS
from selfsup.views.base import ViewMaker

__all__ = ["TS2VecCrops"]


@VIEWS.register(
    "ts2vec_crops",
    modality="timeseries",
    paper="Yue et al. 2022, TS2Vec: Towards Universal Representation of Time Series, Section 3.2",
    description="two overlapping random crops (contextual consistency); views carry 'overlap' "
    "and 'overlap_start'",
)
class TS2VecCrops(ViewMaker):
    """TS2Vec's two overlapping random crops (Yue et al. 2022, Section 3.2, "random cropping").

    Per batch: overlap length ``l ~ U{min_overlap..L}``, its start ``a2 ~ U{0..L-l}``
    (``b1 = a2 + l``), then ``a1 ~ U{0..a2}`` and ``b2 ~ U{b1..L}``; view 0 is ``x[a1:b1]``,
    view 1 is ``x[a2:b2]``, and ``[a2, b1)`` is the segment both views share. As in the official
    code (``TS2Vec.fit``), every sample is shifted by its own random offset in
    ``[-a1, L_i - b2]`` so the crops land anywhere in the series while all samples keep the same
    lengths (a rectangular batch). For ``[B, D, T, C]`` one offset per sample is shared by its
    devices, which keeps them synchronised.

    Each returned batch dict carries ``"overlap": b1 - a2`` and ``"overlap_start"``: where the
    shared segment starts inside that view (``a2 - a1`` for view 0, 0 for view 1). So
    ``v0["x"][:, s:s + overlap]`` and ``v1["x"][:, :overlap]`` are the same timestamps.
    No timestamp masking here: TS2Vec masks the latents inside the encoder (``forward_sequence``'s
    ``mask``).

    **Paper defaults vs. library defaults.** ``temporal_unit = 0`` and the shortest overlap
    ``2 ** (temporal_unit + 1) = 2`` are the official code's. ``L`` is the shortest *observed*
    length in the batch, so the crops never contain padding; the official code instead centres
    variable-length series and crops over the padded length, letting its encoder zero the NaN
    timestamps. Fixed-length data is cropped exactly as in the code.

    Args:
        input_shape: ``(T, C)`` or ``(D, T, C)``.
        temporal_unit: TS2Vec's smallest unit of the temporal contrast (max-pooling depth); sets
            the default ``min_overlap``.
        min_overlap: shortest shared segment (and so shortest crop); a batch holding a series
            shorter than this is an error naming it.
    """

    def __init__(self, input_shape: Sequence[int], *, temporal_unit: int = 0,
                 min_overlap: int | None = None) -> None:
        super().__init__()
        self.input_shape = series_shape(input_shape, type(self).__name__)
        check_int_option(temporal_unit, "temporal_unit", low=0)
        if min_overlap is None:
            min_overlap = 2 ** (temporal_unit + 1)
        check_int_option(min_overlap, "min_overlap", low=1)
        steps = self.input_shape[-2]
        if min_overlap > steps:
            raise SelfsupError(
                f"ts2vec_crops: series of {steps} timestamps are shorter than the crop of at least "
                f"min_overlap={min_overlap} (2 ** (temporal_unit + 1) = {2 ** (temporal_unit + 1)} "
                "by default); lower temporal_unit / min_overlap."
            )
        self.temporal_unit, self.min_overlap = temporal_unit, min_overlap

    def crops(self, x: Tensor, index: Tensor | None = None) -> tuple[Tensor, Tensor, int, int]:
        """``(view0, view1, overlap, overlap_start_in_view0)`` for ``x [B, (D,) T, C]``."""
        check_series(x, self.input_shape, type(self).__name__)
        device = x.device
        per_sample = sample_lengths(x)  # devices share a crop
        check_long_enough(per_sample, self.min_overlap, "ts2vec_crops", index)
        span = int(per_sample.min())
        overlap = _randint(self.min_overlap, span + 1)
        a2 = _randint(0, span - overlap + 1)
        b1 = a2 + overlap
        a1 = _randint(0, a2 + 1)
        b2 = _randint(b1, span + 1)
        # offset_i ~ U{-a1 .. L_i - b2}: the whole span [a1, b2) stays inside series i.
        room = (per_sample - b2 + a1 + 1).to(torch.float32)
        offset = (torch.rand(x.shape[0], device=device) * room).floor().long() - a1
        with torch.no_grad():
            view0 = _take(x, offset + a1, b1 - a1)
            view1 = _take(x, offset + a2, b2 - a2)
        return view0, view1, overlap, a2 - a1

    def check_data(self, data: Any, describe: Callable[[int], str]) -> None:
        check_long_enough(sample_lengths(series_of(data)), self.min_overlap, "ts2vec_crops", describe=describe)

    def augment(self, x: Tensor, i: int) -> Tensor:
        raise SelfsupError("ts2vec_crops makes its two views together (they must overlap); "
                           "call views(batch, 2).")

    def forward(self, batch: dict[str, Any], n: int = 2) -> list[dict[str, Any]]:
        """Two views ``x[a1:b1]`` and ``x[a2:b2]`` with their ``"overlap"``/``"overlap_start"``."""
        if n != 2:
            raise SelfsupError(f"ts2vec_crops makes exactly 2 overlapping views; {n} were asked "
                               "for. Use it with a two-view method (ts2vec) or choose other views.")
        view0, view1, overlap, start = self.crops(batch["x"], batch.get("index"))
        return [
            {**batch, "x": view0, "overlap": overlap, "overlap_start": start},
            {**batch, "x": view1, "overlap": overlap, "overlap_start": 0},
        ]

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, min_overlap={self.min_overlap}"


# --- shared helpers ------------------------------------------------------------------------------


def _randint(low: int, high: int) -> int:
    """One integer in ``[low, high)`` from torch's global generator (so a seed fixes it)."""
    return int(torch.randint(low, high, (1,)).item())


def _take(x: Tensor, start: Tensor, length: int) -> Tensor:
    """``x[i, ..., start_i : start_i + length, :]`` for every sample ``i``."""
    steps = start[:, None] + torch.arange(length, device=x.device)[None]  # [B, length]
    if x.dim() == 4:
        steps = steps[:, None].expand(-1, x.shape[1], -1)
    return x.gather(-2, steps[..., None].expand(*steps.shape, x.shape[-1]))

"""CoLES's random slices, made on the device for the whole batch at once.

Babaev et al. 2022, "CoLES: Contrastive Learning for Event Sequences with Self-Supervision"
(SIGMOD'22), Section 3 ("random slices"): a view of a sequence of length ``T`` is a contiguous
sub-sequence ``S[s : s + T_i]`` with ``T_i`` drawn uniformly in ``[m, M]`` and the start ``s``
uniformly in ``[0, T - T_i]``. The paper gives ``m``, ``M`` in events per data set; here they are
fractions of each sequence's own length (``min_fraction``, ``max_fraction``), so one setting fits
sequences of 20 and of 700 events, with optional absolute bounds ``min_events`` / ``max_events``.
Every view ``i`` draws new lengths and starts for every sequence: ``views(batch, k)`` gives
CoLES's ``k`` sub-sequences of each entity, ``views(batch, 2)`` a SimCLR pair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from selfsup.errors import SelfsupError
from selfsup.modalities.events.data.batch import EventBatch, EventSpec
from selfsup.modalities.tabular.views.corruption import check_rate
from selfsup.registry import VIEWS
from selfsup.validate import check_int
from selfsup.views.base import ViewMaker


def random_slices(lengths: torch.Tensor, min_fraction: float, max_fraction: float, min_events: int = 1,
                  max_events: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Start positions and lengths ``[B]`` of one random contiguous slice per sequence of
    ``lengths [B]``: length ``round(u * T)``, ``u ~ U[min_fraction, max_fraction]``, clamped to
    ``[min(min_events, T), T]`` (and to ``max_events``), start uniform among the valid ones."""
    fraction = torch.empty(lengths.shape, device=lengths.device).uniform_(min_fraction, max_fraction)
    size = torch.round(fraction * lengths).long()
    size = torch.maximum(size, torch.clamp(lengths, max=min_events))
    if max_events is not None:
        size = torch.clamp(size, max=max_events)
    size = torch.minimum(torch.clamp(size, min=1), lengths.clamp(min=1))
    start = (torch.rand(lengths.shape, device=lengths.device) * (lengths - size + 1)).long()
    return torch.minimum(start, (lengths - size).clamp(min=0)), size


def slice_batch(x: EventBatch, start: torch.Tensor, size: torch.Tensor) -> EventBatch:
    """Row ``b`` of ``x`` cut to its events ``start[b] : start[b] + size[b]``."""
    width = max(int(size.max()), 1) if len(x) else 1
    positions = start[:, None] + torch.arange(width, device=x.device)[None, :]
    return x.steps(positions, size)


@VIEWS.register("coles_slices", modality="events", paper="Babaev et al. 2022, CoLES",
                description="random contiguous sub-sequences of each entity, of a random share of its length")
class RandomSlices(ViewMaker):
    """CoLES's random slices (module doc).

    Args:
        input_spec: the data's :class:`EventSpec`.
        min_fraction / max_fraction: the range of a slice's share of its sequence's length.
        min_events: slices are at least this long (a shorter sequence is taken whole).
        max_events: slices are at most this long (None: no bound); bounds the cost of long histories.

    Paper defaults vs. library defaults: ``k = 5`` sub-sequences per entity (the ``coles``
    method's ``num_views``); ``m``, ``M`` in events per data set (e.g. 25 and 200 on the age-group
    data, as recalled from the paper's hyper-parameter table). Library: a share of 0.2 to 0.6 of
    each sequence, at least 5 events.
    """

    def __init__(self, input_spec: EventSpec, min_fraction: float = 0.2, max_fraction: float = 0.6,
                 min_events: int = 5, max_events: int | None = None) -> None:
        super().__init__()
        self.min_fraction = check_rate(min_fraction, "min_fraction")
        self.max_fraction = check_rate(max_fraction, "max_fraction")
        if self.min_fraction > self.max_fraction or self.max_fraction == 0:
            raise ValueError(f"min_fraction must be <= max_fraction and max_fraction > 0, got {min_fraction!r}, "
                             f"{max_fraction!r}")
        self.min_events = check_int(min_events, "min_events")
        self.max_events = None if max_events is None else check_int(max_events, "max_events")

    def augment(self, x: EventBatch, i: int) -> EventBatch:
        start, size = random_slices(x.lengths, self.min_fraction, self.max_fraction, self.min_events, self.max_events)
        return slice_batch(x, start, size)

    def check_data(self, data: Any, describe: Callable[[int], str]) -> None:
        store = getattr(data, "store", None)
        if store is not None and int(store.lengths.max()) < 2:
            raise SelfsupError("Every sequence has a single event: random slices of one event are all the same, so "
                               "there is nothing to contrast. Check data.options.entity names the entity column.")

"""CL4SRec's sequence augmentations, made on the device for the whole batch at once.

Xie et al. 2022, "Contrastive Learning for Sequential Recommendation" (ICDE'22), Section III-B:
each view applies one of three operators, drawn per sequence:

- **crop**: a random contiguous sub-sequence of ``max(1, floor(eta * T))`` events;
- **mask**: ``floor(gamma * T)`` random events become the mask (here the "unknown" slot of every
  categorical field, numeric values and time delta 0);
- **reorder**: a random contiguous segment of ``floor(beta * T)`` events is shuffled.

Paper defaults vs. library defaults: ``eta``, ``gamma``, ``beta`` are tuned in 0.1..0.9 per data
set (Section IV-E); library: ``crop = 0.6``, ``mask = 0.3``, ``reorder = 0.3``.
"""

from __future__ import annotations

import torch

from selfsup.modalities.events.data.batch import EventBatch, EventSpec
from selfsup.modalities.events.views.slices import slice_batch
from selfsup.modalities.tabular.views.corruption import check_rate
from selfsup.registry import VIEWS
from selfsup.views.base import ViewMaker

OPERATORS = ("crop", "mask", "reorder")


def crop(x: EventBatch, fraction: float) -> EventBatch:
    size = torch.clamp(torch.floor(fraction * x.lengths).long(), min=1)
    size = torch.minimum(size, x.lengths.clamp(min=1))
    start = (torch.rand(len(x), device=x.device) * (x.lengths - size + 1)).long()
    return slice_batch(x, start, size)


def mask(x: EventBatch, fraction: float) -> EventBatch:
    """Exactly ``floor(fraction * T)`` events of each sequence masked, chosen uniformly."""
    scores = torch.rand(x.lengths.shape[0], x.max_length, device=x.device).masked_fill(~x.mask, 2.0)
    ranks = scores.argsort(dim=1).argsort(dim=1)
    masked = ranks < torch.floor(fraction * x.lengths)[:, None]
    positions = torch.arange(x.max_length, device=x.device).expand(len(x), -1)
    return x.steps(positions, x.lengths, masked)


def reorder(x: EventBatch, fraction: float) -> EventBatch:
    """One random segment of ``floor(fraction * T)`` events of each sequence shuffled: sorting by
    a key that is the position outside the segment and a random point inside it."""
    size = torch.floor(fraction * x.lengths).long()
    start = (torch.rand(len(x), device=x.device) * (x.lengths - size + 1)).long()
    steps = torch.arange(x.max_length, device=x.device)[None, :].expand(len(x), -1)
    inside = (steps >= start[:, None]) & (steps < (start + size)[:, None])
    keys = torch.where(inside, start[:, None] + torch.rand(steps.shape, device=x.device) * size[:, None] - 0.5,
                       steps.float())
    return x.steps(keys.argsort(dim=1), x.lengths)


@VIEWS.register("event_augment", modality="events", paper="Xie et al. 2022, CL4SRec",
                description="CL4SRec: each sequence cropped, masked or reordered (one operator drawn per view)")
class SequenceAugment(ViewMaker):
    """CL4SRec's augmentations (module doc); ``operators`` chooses which are drawn from.

    Args:
        input_spec: the data's :class:`EventSpec`.
        crop / mask / reorder: the operators' rates ``eta``, ``gamma``, ``beta``.
        operators: the operators drawn from, uniformly per sequence and view.
    """

    def __init__(self, input_spec: EventSpec, crop: float = 0.6, mask: float = 0.3, reorder: float = 0.3,
                 operators: tuple[str, ...] | list[str] = OPERATORS) -> None:
        super().__init__()
        self.rates = {"crop": check_rate(crop, "crop"), "mask": check_rate(mask, "mask"),
                      "reorder": check_rate(reorder, "reorder")}
        unknown = [o for o in operators if o not in OPERATORS] if isinstance(operators, (list, tuple)) else [operators]
        if unknown or not operators:
            raise ValueError(f"operators must be a non-empty list of {', '.join(OPERATORS)}; got {operators!r}")
        self.operators = tuple(operators)

    def augment(self, x: EventBatch, i: int) -> EventBatch:
        # every operator on the whole batch, then each row takes its own operator's result
        choice = torch.randint(len(self.operators), (len(x),), device=x.device)
        functions = {"crop": crop, "mask": mask, "reorder": reorder}
        parts = [functions[name](x, self.rates[name]) for name in self.operators]
        width = max(p.max_length for p in parts)

        def pick(name: str) -> torch.Tensor:
            padded = [getattr(p, name) for p in parts]
            padded = [torch.nn.functional.pad(t, (0, 0) * (t.dim() - 2) + (0, width - t.shape[1])) for t in padded]
            stacked = torch.stack(padded)  # [O, B, L, ...]
            index = choice.view(1, -1, *[1] * (stacked.dim() - 2)).expand(1, *stacked.shape[1:])
            return stacked.gather(0, index)[0]

        lengths = torch.stack([p.lengths for p in parts]).gather(0, choice[None])[0]
        return EventBatch(pick("categorical"), pick("numeric"), pick("delta"), lengths, x.cardinalities)

"""What an event-sequence batch is: :class:`EventBatch`, the ``"x"`` of every events batch, the
input spec :class:`EventSpec`, and the dataset that cuts padded batches out of one flat store.

A batch holds ``B`` entities' sequences, left-aligned and padded to the longest (``L``):

- ``categorical [B, L, Fc]`` int64 category indices per field; 0 is the "unknown" slot (a value
  not seen in the train split, a masked event, and the padding), training values are ``1..K``;
- ``numeric [B, L, Fn]`` float32, standardised with the train split's events (missing = 0);
- ``delta [B, L]`` float32: the standardised ``log1p`` of the time since the entity's previous
  event (0 seconds before its first one);
- ``lengths [B]`` int64: how many steps of each row are events (the rest is padding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset


@dataclass(frozen=True)
class EventSpec:
    """One event's fields: categorical names and their index counts (training values + the
    unknown slot), numeric names. Every event also carries its time delta."""

    categorical: tuple[str, ...] = ()
    cardinalities: tuple[int, ...] = ()
    numeric: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.categorical) != len(self.cardinalities):
            raise ValueError("EventSpec needs one cardinality per categorical field")

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": [len(self.categorical), len(self.numeric)], "categorical": list(self.categorical),
                "cardinalities": list(self.cardinalities), "numeric": list(self.numeric)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventSpec:
        return cls(tuple(data.get("categorical", ())), tuple(int(c) for c in data.get("cardinalities", ())),
                   tuple(data.get("numeric", ())))


@dataclass
class EventBatch:
    """Padded event sequences (module doc); ``mask`` marks the valid steps."""

    categorical: torch.Tensor
    numeric: torch.Tensor
    delta: torch.Tensor
    lengths: torch.Tensor
    cardinalities: tuple[int, ...]

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def device(self) -> torch.device:
        return self.lengths.device

    @property
    def max_length(self) -> int:
        return int(self.delta.shape[1])

    @property
    def mask(self) -> torch.Tensor:
        """``[B, L]`` bool: True at the events, False at the padding."""
        return torch.arange(self.max_length, device=self.device)[None, :] < self.lengths[:, None]

    def to(self, device: Any, non_blocking: bool = False) -> EventBatch:
        move = lambda t: t.to(device, non_blocking=non_blocking)
        return EventBatch(move(self.categorical), move(self.numeric), move(self.delta), move(self.lengths),
                          self.cardinalities)

    def steps(self, positions: torch.Tensor, lengths: torch.Tensor, masked: torch.Tensor | None = None) -> EventBatch:
        """A new batch whose row ``b`` holds this batch's events ``positions[b, :lengths[b]]``
        (``positions [B, L']`` long, values in ``[0, L)``); events flagged in ``masked [B, L']``
        become unknown (categories 0, numeric values and delta 0). What every view is built on."""
        keep = torch.arange(positions.shape[1], device=self.device)[None, :] < lengths[:, None]
        if masked is not None:
            keep = keep & ~masked
        positions = positions.clamp(0, max(self.max_length - 1, 0))
        categorical = torch.gather(self.categorical, 1, positions[..., None].expand(-1, -1, self.categorical.shape[2]))
        numeric = torch.gather(self.numeric, 1, positions[..., None].expand(-1, -1, self.numeric.shape[2]))
        delta = torch.gather(self.delta, 1, positions)
        return EventBatch(categorical * keep[..., None], numeric * keep[..., None], delta * keep, lengths.clone(),
                          self.cardinalities)

    def raw_features(self) -> torch.Tensor:
        """``[B, F]`` hand-made aggregates of each sequence — the share of events in every category
        of every field, the mean of every numeric field and of the time delta, and the log of the
        sequence length: the evaluation's raw-input baseline (what CoLES compares against)."""
        mask = self.mask.float()
        count = mask.sum(1).clamp_min(1.0)
        parts = []
        for j, cardinality in enumerate(self.cardinalities):
            one_hot = torch.nn.functional.one_hot(self.categorical[:, :, j], cardinality).float()
            parts.append((one_hot * mask[..., None]).sum(1) / count[:, None])
        parts.append((self.numeric * mask[..., None]).sum(1) / count[:, None])
        parts.append(((self.delta * mask).sum(1) / count)[:, None])
        parts.append(torch.log1p(self.lengths.float())[:, None])
        return torch.cat(parts, dim=1)


@dataclass
class EventStore:
    """Every entity's encoded events in one flat store: entity ``i`` owns rows
    ``offsets[i]:offsets[i + 1]`` of ``categorical [E, Fc]``, ``numeric [E, Fn]`` and ``delta [E]``,
    in time order."""

    categorical: torch.Tensor
    numeric: torch.Tensor
    delta: torch.Tensor
    offsets: torch.Tensor
    cardinalities: tuple[int, ...]

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @property
    def lengths(self) -> torch.Tensor:
        return self.offsets[1:] - self.offsets[:-1]

    def batch(self, index: torch.Tensor) -> EventBatch:
        """Entities ``index`` as a padded :class:`EventBatch`, with one gather per tensor."""
        lengths = self.lengths[index]
        width = int(lengths.max()) if len(index) else 0
        steps = torch.arange(width)[None, :]
        valid = steps < lengths[:, None]
        rows = torch.where(valid, self.offsets[index][:, None] + steps, torch.zeros_like(steps))
        return EventBatch(self.categorical[rows] * valid[..., None], self.numeric[rows] * valid[..., None],
                          self.delta[rows] * valid, lengths, self.cardinalities)


class EventDataset(Dataset):
    """One item per entity; ``__getitems__`` returns the whole batch dict (``"x"``: an
    :class:`EventBatch`, ``"index"``, ``"y"`` when labeled)."""

    def __init__(self, store: EventStore, y: torch.Tensor | None = None) -> None:
        self.store = store
        self.y = y

    def __len__(self) -> int:
        return len(self.store)

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        index = torch.as_tensor(indices, dtype=torch.long)
        batch: dict[str, Any] = {"x": self.store.batch(index), "index": index}
        if self.y is not None:
            batch["y"] = self.y[index]
        return batch

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.__getitems__([i])


def collate_events(items: Any) -> dict[str, Any]:
    """Collate of :class:`EventDataset`: the dict of ``__getitems__`` passes through; a list of
    single-entity dicts (a plain DataLoader over ``__getitem__``) is re-padded into one batch."""
    if isinstance(items, dict):
        return items
    xs = [item["x"] for item in items]
    width = max(x.max_length for x in xs)
    pad = lambda t: torch.nn.functional.pad(t, (0, 0, 0, width - t.shape[1]))
    x = EventBatch(torch.cat([pad(b.categorical) for b in xs]), torch.cat([pad(b.numeric) for b in xs]),
                   torch.cat([torch.nn.functional.pad(b.delta, (0, width - b.max_length)) for b in xs]),
                   torch.cat([b.lengths for b in xs]), xs[0].cardinalities)
    batch: dict[str, Any] = {"x": x, "index": torch.cat([item["index"] for item in items])}
    if "y" in items[0]:
        batch["y"] = torch.cat([item["y"] for item in items])
    return batch

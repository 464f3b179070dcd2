"""What interaction encoders receive: the input spec (catalogue sizes and the training graph) and
the batch of (user, positive item, negative item) triples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class InteractionSpec:
    """The input spec of the interactions modality.

    Attributes:
        num_users / num_items: rows of the user and item embedding tables.
        num_train: training interactions (edges of the user–item graph).
        graph: ``[2, num_train]`` int64 (user, item) training pairs, which graph encoders propagate
            over and keep as a buffer (so a loaded encoder still has its graph); None when rebuilt
            from ``encoder.json`` (the buffer is then filled from ``encoder.safetensors``).
    """

    num_users: int
    num_items: int
    num_train: int
    graph: torch.Tensor | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"num_users": self.num_users, "num_items": self.num_items, "num_train": self.num_train}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InteractionSpec:
        return cls(int(data["num_users"]), int(data["num_items"]), int(data["num_train"]))


@dataclass
class InteractionBatch:
    """``B`` training triples: ``users [B]``, their positive ``items [B]`` and sampled ``negatives
    [B]`` (items the user has not interacted with in training); ``negatives`` is None outside
    training."""

    users: torch.Tensor
    items: torch.Tensor
    negatives: torch.Tensor | None = None

    def to(self, device: Any) -> InteractionBatch:
        return InteractionBatch(self.users.to(device), self.items.to(device),
                                None if self.negatives is None else self.negatives.to(device))

    def __len__(self) -> int:
        return int(self.users.shape[0])

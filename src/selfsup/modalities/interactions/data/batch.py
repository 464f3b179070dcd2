"""What interaction encoders receive: the input spec (catalogue sizes and the training graph) and
the batch of (user, positive item, negative item) triples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from selfsup.modalities.interactions.data.features import EntityFeatures


@dataclass
class InteractionSpec:
    """The input spec of the interactions modality.

    Attributes:
        num_users / num_items: rows of the user and item embedding tables.
        num_train: training interactions (edges of the user–item graph).
        graph: ``[2, num_train]`` int64 (user, item) training pairs, which graph encoders propagate
            over and keep as a buffer (so a loaded encoder still has its graph); None when rebuilt
            from ``encoder.json`` (the buffer is then filled from ``encoder.safetensors``).
        user_features / item_features: the feature tables' tensors (:mod:`~.features`), which
            feature encoders (``two_tower``) embed and keep as buffers; None without a table.
            Rebuilt from ``encoder.json`` they hold zeros of the saved shapes until the weights load.
    """

    num_users: int
    num_items: int
    num_train: int
    graph: torch.Tensor | None = field(default=None, repr=False)
    user_features: EntityFeatures | None = field(default=None, repr=False)
    item_features: EntityFeatures | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {"num_users": self.num_users, "num_items": self.num_items,
                                     "num_train": self.num_train}
        features = {side: f.schema() for side, f in (("users", self.user_features), ("items", self.item_features))
                    if f is not None}
        if features:
            described["features"] = features
        return described

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InteractionSpec:
        features = data.get("features") or {}
        users, items = int(data["num_users"]), int(data["num_items"])
        return cls(users, items, int(data["num_train"]),
                   user_features=EntityFeatures.empty_like(features["users"], users) if "users" in features else None,
                   item_features=EntityFeatures.empty_like(features["items"], items) if "items" in features else None)


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

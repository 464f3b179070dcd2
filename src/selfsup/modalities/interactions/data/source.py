"""Interactions as a :class:`~selfsup.data.DataSource`: the samples are the training interactions.

A training batch holds ``B`` interactions as (user, positive item) pairs, each with one negative
item drawn uniformly from the items the user has not interacted with in training (batched
rejection sampling: draw all, redraw the ones that hit a known pair; what LightGCN, SGL and
RecBole's uniform sampler do). ``source.recommendation`` carries the full-ranking task (training,
validation and test interactions per user, item popularity, user and item labels), which the
final evaluation scores (:mod:`selfsup.eval.recommendation`), and ``source.ids`` the original
user and item ids, which the run saves (``ids.json``) so its embeddings are looked up by them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from selfsup.data import DataSource
from selfsup.eval.recommendation import (
    Labels,
    RecommendationTask,
    UserItems,
    embedding_scorer,
    ranking_metrics,
)
from selfsup.modalities.interactions.data.batch import InteractionBatch, InteractionSpec
from selfsup.modalities.interactions.data.features import EntityFeatures
from selfsup.modalities.interactions.data.splits import TEST, TRAIN, VALID, split_interactions
from selfsup.modalities.interactions.data.table import InteractionTable

# redraws of negatives that hit a training pair before the rest are kept as they are
NEGATIVE_REDRAWS = 20


class TrainInteractions(Dataset):
    """The training interactions, ``users [n]`` and ``items [n]``."""

    def __init__(self, users: torch.Tensor, items: torch.Tensor) -> None:
        self.users, self.items = users, items

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return {"users": self.users[index], "items": self.items[index], "index": index}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([i])


class NegativeSampler:
    """Uniform negatives for a batch of users, excluding each user's training items."""

    def __init__(self, users: torch.Tensor, items: torch.Tensor, num_items: int) -> None:
        self.num_items = num_items
        self.keys = torch.unique(users * num_items + items)  # sorted

    def known(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``[B]`` bool: (user, item) is a training pair."""
        keys = users * self.num_items + items
        found = torch.searchsorted(self.keys, keys).clamp(max=len(self.keys) - 1)
        return self.keys[found] == keys

    def __call__(self, users: torch.Tensor) -> torch.Tensor:
        negatives = torch.randint(self.num_items, users.shape)
        for _ in range(NEGATIVE_REDRAWS):
            hit = self.known(users, negatives)
            if not hit.any():
                break
            negatives[hit] = torch.randint(self.num_items, (int(hit.sum()),))
        return negatives


class InteractionCollate:
    """Training pairs -> ``{"x": InteractionBatch(users, items, negatives), "index"}``."""

    def __init__(self, sampler: NegativeSampler) -> None:
        self.sampler = sampler

    def __call__(self, items: Any) -> dict[str, Any]:
        if not isinstance(items, dict):  # a loader without __getitems__: single items
            items = {k: torch.cat([item[k].reshape(-1) for item in items]) for k in items[0]}
        users = items["users"]
        return {"x": InteractionBatch(users, items["items"], self.sampler(users)), "index": items["index"]}


@dataclass
class InteractionSource(DataSource):
    """A :class:`DataSource` of user–item interactions (module doc).

    Attributes:
        recommendation: the full-ranking task of the final evaluation.
        ids: ``{"users": [original id of user u], "items": [...]}``.
        splits: the split protocol, in words.
    """

    recommendation: RecommendationTask | None = None
    ids: dict[str, list[str]] = field(default_factory=dict)
    splits: str = ""

    def validation_scorer(self) -> Callable[[Any], dict[str, float]] | None:
        """Full-ranking Recall@20 and NDCG@20 of an encoder's user and item tables on the validation
        split (training items excluded), for early stopping; None without a validation split."""
        task = self.recommendation
        if task is None or task.valid is None:
            return None

        def score(encoder: Any) -> dict[str, float]:
            users, items = (table.float().cpu() for table in encoder.user_item_embeddings())
            figures = ranking_metrics(embedding_scorer(users, items), task, "valid", ks=(20,))
            return {"recall@20": figures["recall@20"], "ndcg@20": figures["ndcg@20"]}

        return score


def _pairs(table: InteractionTable, part: np.ndarray, which: int, num_users: int) -> UserItems | None:
    chosen = part == which
    if not chosen.any():
        return None
    return UserItems.from_pairs(torch.from_numpy(table.users[chosen]), torch.from_numpy(table.items[chosen]), num_users)


def interaction_source(
    table: InteractionTable,
    name: str,
    split: str = "ratio",
    ratios: list[float] | tuple[float, ...] = (0.8, 0.1, 0.1),
    time_scope: str = "user",
    seed: int = 0,
    user_labels: Labels | None = None,
    item_labels: Labels | None = None,
    notes: list[str] | None = None,
    user_features: EntityFeatures | None = None,
    item_features: EntityFeatures | None = None,
) -> InteractionSource:
    """Split ``table`` and build the source (module doc). ``seed`` chooses a random split; the
    feature tensors (rows by remapped id) go into the input spec for feature encoders."""
    notes = list(table.notes) + list(notes or [])
    part, split_notes = split_interactions(table.users, table.times, split, list(ratios), seed, time_scope, name)
    notes += split_notes
    train = part == TRAIN
    users = torch.from_numpy(table.users[train])
    items = torch.from_numpy(table.items[train])
    n_users, n_items = table.num_users, table.num_items
    untrained = n_items - int(torch.unique(items).numel())
    if untrained:
        notes.append(f"{name}: {untrained:,} items occur only in validation or test interactions; they keep their "
                     "initial embeddings (cold items).")
    spec = InteractionSpec(n_users, n_items, int(train.sum()), graph=torch.stack([users, items]),
                           user_features=user_features, item_features=item_features)
    task = RecommendationTask(
        num_users=n_users, num_items=n_items, train=UserItems.from_pairs(users, items, n_users),
        item_counts=torch.bincount(items, minlength=n_items),
        valid=_pairs(table, part, VALID, n_users), test=_pairs(table, part, TEST, n_users),
        user_labels=user_labels, item_labels=item_labels,
    )
    sampler = NegativeSampler(users, items, n_items)
    described = f"{split} split" + (f" {list(ratios)}" if split != "loo" else "") + (
        f" ({time_scope})" if split == "time" else "")
    return InteractionSource(
        name=name, modality="interactions", train=TrainInteractions(users, items), test=None,
        input_spec=spec, collate=InteractionCollate(sampler), notes=notes,
        recommendation=task, ids={"users": [str(u) for u in table.user_ids], "items": [str(i) for i in table.item_ids]},
        splits=described,
    )


def split_counts(source: InteractionSource) -> dict[str, int]:
    task = source.recommendation
    return {"train": int(task.train.indices.numel()),
            "valid": 0 if task.valid is None else int(task.valid.indices.numel()),
            "test": 0 if task.test is None else int(task.test.indices.numel())}

"""Token ids of many texts in one flat store, and the dataset that cuts padded
:class:`~selfsup.modalities.text.data.batch.TextBatch` es out of it with one gather."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from selfsup.modalities.text.data.batch import CLS, PAD, SEP, TextBatch


@dataclass
class TextStore:
    """Every text's tokens (special tokens excluded, already cut to ``max_length - 2``): text ``i``
    owns ``tokens[offsets[i]:offsets[i + 1]]``.

    ``tokens [T]`` int32 (a vocabulary below 2^31 ids; half the memory of int64),
    ``offsets [N + 1]`` int64."""

    tokens: torch.Tensor
    offsets: torch.Tensor

    def __len__(self) -> int:
        return int(self.offsets.shape[0]) - 1

    @classmethod
    def from_lists(cls, sequences: list[list[int]]) -> TextStore:
        """The store of ``sequences`` (token ids, no special tokens)."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = np.fromiter((t for s in sequences for t in s), dtype=np.int32, count=int(offsets[-1]))
        return cls(torch.from_numpy(flat), torch.from_numpy(offsets))

    @property
    def lengths(self) -> torch.Tensor:
        """``[N]`` int64: each text's length as batched (its tokens + ``[CLS]`` and ``[SEP]``)."""
        return self.offsets[1:] - self.offsets[:-1] + 2

    def batch(self, index: torch.Tensor) -> TextBatch:
        """Texts ``index [B]`` as ``[CLS] tokens [SEP]`` padded to the longest of them."""
        lengths = self.lengths[index]
        width = int(lengths.max()) if len(index) else 0
        steps = torch.arange(width)[None, :]
        inside = (steps >= 1) & (steps < lengths[:, None] - 1)
        # position p >= 1 of row b holds token p - 1 of its text; elsewhere a dummy 0 read
        rows = torch.where(inside, self.offsets[index][:, None] + steps - 1, torch.zeros_like(steps))
        ids = torch.where(inside, self.tokens[rows].long(), torch.full_like(rows, PAD))
        ids[:, 0] = CLS
        ids[torch.arange(len(index)), lengths - 1] = SEP
        return TextBatch(ids, lengths)


class TextDataset(Dataset):
    """One item per text; ``__getitems__`` returns the whole batch dict (``"x"``: a
    :class:`TextBatch`, ``"index"``, ``"y"`` when labeled)."""

    def __init__(self, store: TextStore, y: torch.Tensor | None = None) -> None:
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


def collate_text(items: Any) -> dict[str, Any]:
    """Collate of :class:`TextDataset`: the dict of ``__getitems__`` passes through; a list of
    single-text dicts (a plain DataLoader over ``__getitem__``, or a ``Subset``'s items) is
    re-padded into one batch."""
    if isinstance(items, dict):
        return items
    xs = [item["x"] for item in items]
    width = max(x.max_length for x in xs)
    ids = torch.cat([torch.nn.functional.pad(x.ids, (0, width - x.max_length), value=PAD) for x in xs])
    batch: dict[str, Any] = {"x": TextBatch(ids, torch.cat([x.lengths for x in xs])),
                             "index": torch.cat([item["index"] for item in items])}
    if "y" in items[0]:
        batch["y"] = torch.cat([item["y"] for item in items])
    return batch

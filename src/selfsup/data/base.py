"""Data bundles, the in-memory dataset that yields batch dicts, and the safe NumPy reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from selfsup.errors import SelfsupError


@dataclass
class DataBundle:
    """Everything a run needs from a data source, decoded once and kept as tensors.

    ``x_*`` hold the modality's compact representation (images: float32 ``[N, C, H, W]`` in
    [0, 1]); ``y_*`` are int64 ``[N]`` class indices or None when unlabeled. ``x_test`` is None
    when the source has no labels to evaluate against and no explicit test split.
    """

    name: str
    modality: str
    x_train: torch.Tensor
    y_train: torch.Tensor | None = None
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    """Modality-specific facts about the data, e.g. ``{"devices": [...]}`` for multi-device
    time series ``[N, D, T, C]``."""
    source_index: torch.Tensor | None = None
    """When a split reordered the source, the source row of each sample of
    ``cat(x_train, x_test)``; None when that concatenation is already in source order."""

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int | None:
        if self.y_train is None:
            return None
        ys = [self.y_train] + ([self.y_test] if self.y_test is not None else [])
        return int(max(int(y.max()) for y in ys)) + 1

    @property
    def held_out(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(x, y)`` that evaluation scores: the test split, or the train split when there is none."""
        if self.x_test is not None:
            return self.x_test, self.y_test
        return self.x_train, self.y_train

    @property
    def labeled(self) -> bool:
        return self.y_train is not None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "modality": self.modality,
            "input_shape": list(self.input_shape),
            "n_train": int(self.x_train.shape[0]),
            "n_test": int(self.x_test.shape[0]) if self.x_test is not None else 0,
            "num_classes": self.num_classes,
        }


class ArrayDataset(Dataset):
    """Map-style dataset over in-memory tensors yielding batch dicts.

    Implements ``__getitems__`` so a DataLoader fetches a whole batch with one indexing
    operation instead of collating per-sample dicts; use :func:`collate_batch` as collate_fn.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.x = x
        self.y = y

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def _batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        batch = {"x": self.x[index], "index": index}
        if self.y is not None:
            batch["y"] = self.y[index]
        return batch

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self._batch(torch.tensor([i])).items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return self._batch(torch.as_tensor(indices, dtype=torch.long))


def collate_batch(items: Any) -> dict[str, torch.Tensor]:
    """Collate for :class:`ArrayDataset`: a dict from ``__getitems__`` passes through."""
    if isinstance(items, dict):
        return items
    return torch.utils.data.default_collate(items)


def np_load(path: Path) -> Any:
    """``np.load`` of a ``.npy`` (array) or ``.npz`` (lazy archive) file, every modality's array
    reader; pickled objects are refused and any failure is one :class:`SelfsupError`."""
    try:  # allow_pickle=False: a data file must never run code
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error):
            raise SelfsupError(
                f"{path} holds Python objects, which are not loaded for safety. Save plain "
                "numeric arrays (labels as ints or np.array(labels, dtype=str))."
            ) from None
        raise SelfsupError(f"Could not read {path} as a NumPy array: {error}") from None
    except Exception as error:  # noqa: BLE001 - any failure means "not a readable array file"
        raise SelfsupError(f"Could not read {path} as a NumPy file: {error}") from None

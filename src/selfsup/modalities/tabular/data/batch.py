"""What a table batch is: :class:`TabularBatch`, the ``"x"`` of every tabular batch, the input
spec :class:`TabularSpec`, and the dataset that yields batches of rows.

A row is stored already encoded (the schema of :mod:`selfsup.modalities.tabular.data.schema`
fitted on the train split):

- ``numeric [B, Fn]`` float32, standardised with the train split's mean and std; a missing
  value is 0 (the train mean) and flagged in ``missing [B, Fn]``;
- ``categorical [B, Fc]`` int64 category indices; index 0 is the "unknown" slot (a category
  not seen in training), the training categories are ``1..K``. A missing category is a value
  of its own (``"<missing>"``), like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch.utils.data import Dataset

UNKNOWN = 0
"""The category index of values not seen in the train split."""


@dataclass(frozen=True)
class TabularSpec:
    """One row's columns: the numeric and categorical feature names, and the number of category
    indices of each categorical column (its training categories + the unknown slot).

    A spec made by reading a table also carries the encoding fitted on its train split
    (``means`` / ``stds`` per numeric column, ``categories`` per categorical column, in index
    order from 1): the run folder saves it in ``encoder.json``, and evaluating or embedding the
    run on other data encodes that data with it instead of fitting anew (:attr:`fitted`).
    """

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    cardinalities: tuple[int, ...] = ()
    means: tuple[float, ...] = ()
    stds: tuple[float, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if len(self.categorical) != len(self.cardinalities):
            raise ValueError("TabularSpec needs one cardinality per categorical column")
        if self.fitted and (len(self.means) != len(self.numeric) or len(self.stds) != len(self.numeric)
                            or [len(c) + 1 for c in self.categories] != list(self.cardinalities)):
            raise ValueError("TabularSpec's encoding needs a mean and std per numeric column and the categories "
                             "of each categorical column (cardinality - 1)")

    @property
    def fitted(self) -> bool:
        """Whether the spec carries its train split's encoding (a hand-made spec does not)."""
        return bool(self.means or self.stds or self.categories)

    @property
    def num_features(self) -> int:
        return len(self.numeric) + len(self.categorical)

    @property
    def raw_width(self) -> int:
        """Width of :meth:`TabularBatch.raw_features`: numeric + one-hot categories."""
        return len(self.numeric) + sum(self.cardinalities)

    def to_dict(self) -> dict[str, Any]:
        # input_shape (numeric and categorical column counts): what the API compares when a run's
        # encoder is evaluated on other data
        data: dict[str, Any] = {"input_shape": [len(self.numeric), len(self.categorical)],
                                "numeric": list(self.numeric), "categorical": list(self.categorical),
                                "cardinalities": list(self.cardinalities)}
        if self.fitted:
            data["encoding"] = {"means": list(self.means), "stds": list(self.stds),
                                "categories": [list(c) for c in self.categories]}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularSpec:
        encoding = data.get("encoding") or {}
        return cls(tuple(data.get("numeric", ())), tuple(data.get("categorical", ())),
                   tuple(int(c) for c in data.get("cardinalities", ())),
                   tuple(float(m) for m in encoding.get("means", ())), tuple(float(s) for s in encoding.get("stds", ())),
                   tuple(tuple(str(v) for v in c) for c in encoding.get("categories", ())))


@dataclass
class TabularBatch:
    """Rows of a table, encoded: ``numeric [B, Fn]``, ``missing [B, Fn]`` (bool), ``categorical
    [B, Fc]`` (int64, 0 = unknown) and the ``cardinalities`` of the categorical columns."""

    numeric: torch.Tensor
    missing: torch.Tensor
    categorical: torch.Tensor
    cardinalities: tuple[int, ...]

    def __len__(self) -> int:
        return int(self.numeric.shape[0])

    @property
    def device(self) -> torch.device:
        return self.numeric.device

    def to(self, device: Any, non_blocking: bool = False) -> TabularBatch:
        return TabularBatch(self.numeric.to(device, non_blocking=non_blocking),
                            self.missing.to(device, non_blocking=non_blocking),
                            self.categorical.to(device, non_blocking=non_blocking), self.cardinalities)

    def raw_features(self) -> torch.Tensor:
        """``[B, Fn + sum(cardinalities)]``: the standardised numeric values (missing = 0, the
        train mean) followed by the one-hot categories (the unknown slot included) — the
        evaluation's raw-input baseline, what a linear model on the table would be given."""
        parts = [self.numeric.float()]
        for j, cardinality in enumerate(self.cardinalities):
            parts.append(torch.nn.functional.one_hot(self.categorical[:, j], cardinality).float())
        return torch.cat(parts, dim=1)

    def rows(self, index: torch.Tensor) -> TabularBatch:
        """The batch's rows ``index`` (a long index or bool mask over ``B``)."""
        return TabularBatch(self.numeric[index], self.missing[index], self.categorical[index], self.cardinalities)

    def with_(self, **changes: Any) -> TabularBatch:
        return replace(self, **changes)

    @staticmethod
    def cat(batches: list[TabularBatch]) -> TabularBatch:
        return TabularBatch(torch.cat([b.numeric for b in batches]), torch.cat([b.missing for b in batches]),
                            torch.cat([b.categorical for b in batches]), batches[0].cardinalities)


class TabularDataset(Dataset):
    """Encoded rows in memory; ``__getitems__`` fetches a whole batch with one indexing step and
    returns the batch dict (``"x"``: :class:`TabularBatch`, ``"index"``, ``"y"`` when labeled)."""

    def __init__(self, rows: TabularBatch, y: torch.Tensor | None = None) -> None:
        self.table = rows
        self.y = y

    def __len__(self) -> int:
        return len(self.table)

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        index = torch.as_tensor(indices, dtype=torch.long)
        batch: dict[str, Any] = {"x": self.table.rows(index), "index": index}
        if self.y is not None:
            batch["y"] = self.y[index]
        return batch

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.__getitems__([i])


def collate_rows(items: Any) -> dict[str, Any]:
    """Collate of :class:`TabularDataset`: the dict of ``__getitems__`` passes through; a list of
    single-row dicts (a plain DataLoader over ``__getitem__``) is concatenated."""
    if isinstance(items, dict):
        return items
    batch: dict[str, Any] = {"x": TabularBatch.cat([item["x"] for item in items]),
                             "index": torch.cat([item["index"] for item in items])}
    if "y" in items[0]:
        batch["y"] = torch.cat([item["y"] for item in items])
    return batch

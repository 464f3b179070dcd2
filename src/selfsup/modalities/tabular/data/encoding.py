"""Turning table columns into tensors with statistics of the train split only.

:meth:`TableEncoding.fit` learns, from the training rows alone, each numeric column's mean and
standard deviation and each categorical column's categories; :meth:`TableEncoding.transform`
applies them to any rows (train or test), so nothing about the test split leaks into training.
The input spec carries the fitted encoding (:attr:`TableEncoding.spec`), so a run saves it, and
:meth:`TableEncoding.from_spec` encodes other data the way the run's train split was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from selfsup.errors import SelfsupError
from selfsup.modalities.tabular.data.batch import UNKNOWN, TabularBatch, TabularSpec
from selfsup.modalities.tabular.data.schema import TableSchema, category_strings


@dataclass(frozen=True)
class Unseen:
    """Categories of one column that a transformed split holds but training did not."""

    column: str
    count: int
    example: str


@dataclass(frozen=True)
class TableEncoding:
    """The train split's statistics: ``means``/``stds`` per numeric column, and per categorical
    column its categories in index order (index ``i + 1``; 0 is the unknown slot)."""

    schema: TableSchema
    means: np.ndarray
    stds: np.ndarray
    categories: tuple[tuple[str, ...], ...]

    @classmethod
    def fit(cls, train: pd.DataFrame, schema: TableSchema, where: str) -> TableEncoding:
        means, stds = [], []
        for column in schema.numeric:
            values = pd.to_numeric(train[column], errors="coerce").to_numpy(dtype=np.float64)
            present = values[~np.isnan(values)]
            if len(present) == 0:
                raise SelfsupError(f"Column {column!r} of {where} is missing in every row of the training split; "
                                   "drop it from the table.")
            means.append(present.mean())
            std = present.std()
            stds.append(std if std > 0 else 1.0)  # a constant column stays constant (0), not NaN
        categories = tuple(tuple(sorted(set(category_strings(train[c])))) for c in schema.categorical)
        return cls(schema, np.asarray(means, dtype=np.float64), np.asarray(stds, dtype=np.float64), categories)

    @classmethod
    def from_spec(cls, spec: TabularSpec, target: str | None = None) -> TableEncoding:
        """The encoding a run's :class:`TabularSpec` carries (saved with the run), to encode new
        data exactly as the run's train split was."""
        if not spec.fitted and spec.num_features:
            raise ValueError("this TabularSpec carries no fitted encoding")
        return cls(TableSchema(spec.numeric, spec.categorical, target), np.asarray(spec.means, dtype=np.float64),
                   np.asarray(spec.stds, dtype=np.float64), spec.categories)

    @property
    def spec(self) -> TabularSpec:
        """The input spec, carrying this encoding."""
        return TabularSpec(self.schema.numeric, self.schema.categorical, tuple(len(c) + 1 for c in self.categories),
                           tuple(float(m) for m in self.means), tuple(float(s) for s in self.stds), self.categories)

    def transform(self, frame: pd.DataFrame) -> tuple[TabularBatch, list[Unseen]]:
        """``frame``'s feature columns as a :class:`TabularBatch`, and the categories it holds
        that the train split did not (mapped to the unknown slot)."""
        n = len(frame)
        numeric = np.zeros((n, len(self.schema.numeric)), dtype=np.float32)
        missing = np.zeros((n, len(self.schema.numeric)), dtype=bool)
        for j, column in enumerate(self.schema.numeric):
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
            missing[:, j] = np.isnan(values)
            numeric[:, j] = np.nan_to_num((values - self.means[j]) / self.stds[j], nan=0.0)
        categorical = np.zeros((n, len(self.schema.categorical)), dtype=np.int64)
        unseen = []
        for j, column in enumerate(self.schema.categorical):
            index = {value: i + 1 for i, value in enumerate(self.categories[j])}
            values = category_strings(frame[column])
            codes = np.fromiter((index.get(v, UNKNOWN) for v in values), dtype=np.int64, count=n)
            categorical[:, j] = codes
            new = np.flatnonzero(codes == UNKNOWN)
            if len(new):
                unseen.append(Unseen(column, len(new), str(values[new[0]])))
        batch = TabularBatch(torch.from_numpy(numeric), torch.from_numpy(missing), torch.from_numpy(categorical),
                             self.spec.cardinalities)
        return batch, unseen


def merge_unseen(unseen: list[Unseen]) -> list[Unseen]:
    """One :class:`Unseen` per column (counts added, first example kept), in first-seen order."""
    merged: dict[str, Unseen] = {}
    for u in unseen:
        first = merged.get(u.column)
        merged[u.column] = Unseen(u.column, u.count + (first.count if first else 0), first.example if first else u.example)
    return list(merged.values())


def unseen_note(unseen: list[Unseen], split: str) -> str | None:
    """The one note saying which categories of ``split`` (``"test"``: the test split; otherwise
    the name of data encoded with a run's encoding) were mapped to "unknown"."""
    if not unseen:
        return None
    listing = "; ".join(f"{u.column!r}: {u.count} value(s), e.g. {u.example!r}" for u in unseen)
    where = "the test split" if split == "test" else split
    return f"Categories of {where} not seen in training were mapped to the 'unknown' slot ({listing})."

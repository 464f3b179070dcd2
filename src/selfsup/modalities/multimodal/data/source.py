"""Paired data: samples made of named per-modality parts, each read and batched by its own modality.

A :class:`PairedSource` holds one whole :class:`~selfsup.data.DataSource` per part (every sample of
that part, read by the part's modality reader) and, per part, the row of each paired sample in it
(-1 where the sample lacks that modality). It splits the *pairs* — stratified by the label when there
is one — so no sample of any part is in both splits, and its batch is::

    {"x": {part: {**the part's own batch, "present": bool [B]}}, "index": [B], "y": [B]}

A part's batch comes from its modality's collate and, on the device, its ``finish``; a sample that
lacks the part is filled with another row of it and marked ``present=False``, and every consumer
(the paired encoder, the losses) leaves such rows out.

The part readers see each part whole (its train and test rows), so what a reader fits without labels
(a table's column means and categories, a text tokenizer) sees the test rows of that part too; the
built-in paired sets encode their parts from arrays and are not affected in any way that uses labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset

from selfsup.data.base import DataSource, spec_to_dict
from selfsup.data.splits import stratified_split
from selfsup.errors import SelfsupError

#: the key of a part's batch saying which rows hold a real sample of that part
PRESENT = "present"


@dataclass
class PairedSpec:
    """The input spec of paired data: ``parts`` maps each part's name to ``(modality, input spec)``,
    in the order of the data's parts."""

    parts: dict[str, tuple[str, Any]]

    @property
    def names(self) -> list[str]:
        return list(self.parts)

    def modality(self, name: str) -> str:
        return self.parts[name][0]

    def spec(self, name: str) -> Any:
        return self.parts[name][1]

    def to_dict(self) -> dict[str, Any]:
        return {"parts": {name: {"modality": modality, **spec_to_dict(spec)}
                          for name, (modality, spec) in self.parts.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairedSpec:
        from selfsup.modality import get_modality

        parts = {}
        for name, description in data["parts"].items():
            modality = description["modality"]
            rest = {k: v for k, v in description.items() if k != "modality"}
            parts[name] = (modality, get_modality(modality).input_spec_from_dict(rest))
        return cls(parts)


def whole(source: DataSource) -> tuple[Dataset, torch.Tensor | None]:
    """Every sample of ``source`` in the order of the user's data (file rows), and their labels."""
    datasets = [source.train] + ([source.test] if source.test is not None else [])
    data: Dataset = datasets[0] if len(datasets) == 1 else ConcatDataset(datasets)
    y = None
    if source.y_train is not None:
        y = source.y_train if source.test is None else torch.cat([source.y_train, source.y_test])
    if source.source_index is not None:  # a reader's split reordered the rows: put them back
        order = torch.argsort(source.source_index)
        data = Subset(data, order.tolist())
        y = None if y is None else y[order]
    return data, y


class PairedDataset(Dataset):
    """The pairs ``indices`` of the parts' whole datasets: item ``i`` is a dict of the part rows of
    pair ``indices[i]`` (a filler row where the pair lacks the part) and their presence."""

    def __init__(self, parts: dict[str, Dataset], rows: dict[str, np.ndarray], indices: np.ndarray,
                 y: torch.Tensor | None) -> None:
        self.parts, self.rows, self.indices, self.y = parts, rows, np.asarray(indices, dtype=np.int64), y
        # a row that exists in each part, fetched in place of a missing one (never used: present=False)
        self.filler = {name: int(np.flatnonzero(r >= 0)[0]) for name, r in rows.items()}

    def __len__(self) -> int:
        return len(self.indices)

    def __getitems__(self, positions: list[int]) -> dict[str, Any]:
        pairs = self.indices[np.asarray(positions, dtype=np.int64)]
        out: dict[str, Any] = {"parts": {}, PRESENT: {}, "index": torch.as_tensor(positions, dtype=torch.long)}
        for name, dataset in self.parts.items():
            rows = self.rows[name][pairs]
            present = rows >= 0
            fetch = np.where(present, rows, self.rows[name][self.filler[name]]).tolist()
            items = (dataset.__getitems__(fetch) if hasattr(dataset, "__getitems__")
                     else [dataset[i] for i in fetch])
            out["parts"][name] = items
            out[PRESENT][name] = torch.from_numpy(present)
        if self.y is not None:
            out["y"] = self.y[torch.as_tensor(positions, dtype=torch.long)]
        return out

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.__getitems__([i])


@dataclass
class PairedSource(DataSource):
    """A DataSource of paired samples (the module doc says what a batch holds).

    Attributes (besides :class:`~selfsup.data.DataSource`'s):
        parts: part name -> that part's whole DataSource (its collate, ``finish`` and spec).
        rows: part name -> ``[N_pairs]`` row of each pair in the part's whole dataset, -1 where absent.
        train_pairs / test_pairs: the pairs of each split.
    """

    parts: dict[str, DataSource] = field(default_factory=dict)
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    train_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    test_pairs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def collate_pairs(self, items: Any) -> dict[str, Any]:
        if not isinstance(items, dict):
            raise TypeError("paired batches are fetched whole (PairedDataset.__getitems__); got single items")
        batch: dict[str, Any] = {"x": {}, "index": items["index"]}
        for name, part_items in items["parts"].items():
            part = self.parts[name].collate(part_items)
            part = {k: v for k, v in part.items() if k not in ("y", "index")}  # labels stay at the pair level
            part[PRESENT] = items[PRESENT][name]
            batch["x"][name] = part
        if "y" in items:
            batch["y"] = items["y"]
        return batch

    def finish_parts(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Each part's batch finished by its own modality once on the device (the source's ``on_device``)."""
        finished = {}
        for name, part in batch["x"].items():
            done = self.parts[name].finish(part)
            finished[name] = {**done, PRESENT: part[PRESENT]}
        return {**batch, "x": finished}

    def part(self, name: str) -> DataSource:
        """Part ``name`` alone, with the pairs' split and labels (the samples that have it): what
        ``selfsup finetune RUN --part NAME`` and a per-modality probe train on."""
        if name not in self.parts:
            raise SelfsupError(f"{self.name} has no part {name!r}; its parts are {', '.join(self.parts)}.")
        part, (data, _) = self.parts[name], whole(self.parts[name])
        splits = []
        for pairs, y in ((self.train_pairs, self.y_train), (self.test_pairs, self.y_test)):
            rows = self.rows[name][pairs]
            keep = rows >= 0
            splits.append((Subset(data, rows[keep].tolist()), None if y is None else y[torch.from_numpy(keep)]))
        (train, y_train), (test, y_test) = splits
        return DataSource(
            name=f"{self.name}:{name}", modality=part.modality, train=train, test=test if len(test) else None,
            input_spec=part.input_spec, collate=part.collate, y_train=y_train,
            y_test=y_test if len(test) else None, class_names=self.class_names, on_device=part.on_device,
        )

    def report_extras(self, encoder: Any, seed: int) -> tuple[list[Any], list[tuple[str, list[str]]]]:
        from selfsup.modalities.multimodal.evaluation import report_extras

        return report_extras(encoder, self, seed)

    def label_free_scores(self, encoder: Any, embedded: Any = None) -> dict[str, float]:
        from selfsup.modalities.multimodal.evaluation import paired_scores

        return paired_scores(encoder, self, embedded=embedded)

    def pairs_of(self, dataset: Dataset) -> np.ndarray:
        """The pairs a split (or a ``Subset`` of one) holds, in its order."""
        if isinstance(dataset, PairedDataset):
            return dataset.indices
        if isinstance(dataset, Subset):
            return self.pairs_of(dataset.dataset)[np.asarray(dataset.indices, dtype=np.int64)]
        raise TypeError(f"not a split of paired data: {type(dataset).__name__}")


def split_pairs(n: int, y: np.ndarray | None, seed: int, test_fraction: float,
                class_names: list[str] | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Seeded train/test pairs: stratified by the label when there is one, else a random share."""
    if test_fraction == 0:
        return np.arange(n), np.zeros(0, dtype=np.int64), []
    if y is not None:
        return stratified_split(y, test_fraction, seed, class_names)
    test = np.sort(np.random.default_rng(seed).permutation(n)[: round(test_fraction * n)])
    return np.setdiff1d(np.arange(n), test), test, []


def paired_source(name: str, parts: dict[str, DataSource], rows: dict[str, np.ndarray] | None = None,
                  y: np.ndarray | None = None, class_names: list[str] | None = None, seed: int = 0,
                  test_fraction: float = 0.2, test_pairs: np.ndarray | None = None,
                  notes: list[str] | None = None) -> PairedSource:
    """The :class:`PairedSource` of whole per-part sources.

    ``rows``: part -> the row of each pair in that part (-1: absent); None pairs the parts by
    position (they must have equal sizes). ``y``: int labels of the pairs (else the first labelled
    part's). ``test_pairs``: a given test split (the rest is train); else a seeded split of
    ``test_fraction`` (stratified when labelled)."""
    if len(parts) < 2:
        raise SelfsupError(f"{name} has {len(parts)} part(s); paired data needs at least two modalities to pair.")
    wholes = {part: whole(source) for part, source in parts.items()}
    sizes = {part: len(data) for part, (data, _) in wholes.items()}
    if rows is None:
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{part}: {size:,}" for part, size in sizes.items())
            raise SelfsupError(f"The parts of {name} have different sample counts ({listed}) and no ids to align "
                               "them by. Give every part an 'id' array (key or column) naming each sample.")
        rows = {part: np.arange(size) for part, size in sizes.items()}
    n = len(next(iter(rows.values())))
    for part, r in rows.items():
        if len(r) != n:
            raise SelfsupError(f"{name}: part {part!r} names rows for {len(r):,} pairs, the first part for {n:,}.")
        if not (r >= 0).any():
            raise SelfsupError(f"Part {part!r} of {name} has no sample of any pair.")
        if int(r.max()) >= sizes[part]:
            # a reader dropped samples (empty texts are skipped): the rows no longer point at the pairs
            raise SelfsupError(f"{name}: part {part!r} has {sizes[part]:,} samples after reading, but the pairs name row "
                               f"{int(r.max()):,}; its reader left samples out ({'; '.join(parts[part].notes) or 'see its notes'}). "
                               "Remove those samples from every part.")
    if y is None:  # the first labelled part's labels, where every pair has that part
        for part, (_, part_y) in wholes.items():
            if part_y is not None and (rows[part] >= 0).all():
                y, class_names = part_y[torch.from_numpy(rows[part])].numpy(), parts[part].class_names
                break
    y_all = None if y is None else torch.as_tensor(np.asarray(y), dtype=torch.long)
    notes = list(notes or [])
    if test_pairs is not None:
        test = np.sort(np.asarray(test_pairs, dtype=np.int64))
        train = np.setdiff1d(np.arange(n), test)
    else:
        train, test, split_notes = split_pairs(n, None if y_all is None else y_all.numpy(), seed, test_fraction,
                                               class_names)
        notes += split_notes
    datasets = {part: data for part, (data, _) in wholes.items()}

    def dataset(indices: np.ndarray) -> PairedDataset:
        return PairedDataset(datasets, rows, indices, None if y_all is None else y_all[torch.from_numpy(indices)])

    for source in parts.values():
        notes += [f"{source.name}: {note}" for note in source.notes]
    spec = PairedSpec({part: (source.modality, source.input_spec) for part, source in parts.items()})
    source = PairedSource(
        name=name, modality="multimodal", train=dataset(train), test=dataset(test) if len(test) else None,
        input_spec=spec, y_train=None if y_all is None else y_all[torch.from_numpy(train)],
        y_test=None if y_all is None or not len(test) else y_all[torch.from_numpy(test)],
        class_names=class_names, notes=notes, source_index=torch.from_numpy(np.concatenate([train, test])),
        parts=dict(parts), rows=rows, train_pairs=train, test_pairs=test,
    )
    source.collate, source.on_device = source.collate_pairs, source.finish_parts
    return source

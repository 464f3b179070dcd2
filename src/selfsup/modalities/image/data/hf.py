"""Images from a Hugging Face ``datasets.Dataset``, read batch by batch from its Arrow files.

The dataset is never converted whole: each batch's rows are taken from the memory-mapped Arrow
table (``dataset[indices]``) and decoded there (an ``Image`` column holds PNG/JPEG bytes; an
array column holds pixels), so a data set larger than memory trains with the memory of a batch.
Labels (``data.options.target``, default ``label`` when there is one) are read once: a vector.
A labeled dataset gets the same seeded stratified test split as an array of the same labels.
Every image must have the size of the first one (else one error naming the row).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from selfsup.data.base import DataSource
from selfsup.data.splits import encode_labels, stratified_split
from selfsup.errors import SelfsupError
from selfsup.modalities.image.data.source import ImageSpec, PixelsToFloat


class HFImageRows(Dataset):
    """Rows ``rows`` of ``dataset``'s image ``column``: ``__getitems__`` decodes one batch into
    ``x`` ``uint8`` ``[B, C, H, W]`` (with ``y`` when ``labels`` are given)."""

    def __init__(self, dataset: Any, column: str, rows: np.ndarray, labels: torch.Tensor | None = None) -> None:
        self.dataset, self.column, self.rows, self.labels = dataset, column, np.asarray(rows), labels
        self.shape = self._decode([0])[0].shape if len(rows) else None  # [H, W, C] of the first image

    def __len__(self) -> int:
        return len(self.rows)

    def _decode(self, positions: list[int]) -> np.ndarray:
        rows = [int(r) for r in self.rows[positions]]
        images = []
        for row, value in zip(rows, self.dataset[rows][self.column]):
            image = np.asarray(value)
            image = image[..., None] if image.ndim == 2 else image
            if image.ndim != 3 or image.shape[-1] not in (1, 3, 4):
                raise SelfsupError(f"Row {row} of column {self.column!r} is not an image [H, W(, C)]: shape "
                                   f"{list(np.shape(value))}.")
            if getattr(self, "shape", None) is not None and image.shape != self.shape:
                raise SelfsupError(f"Row {row} of column {self.column!r} is {list(image.shape)} (H, W, C), the first "
                                   f"image {list(self.shape)}; every image must have one size.")
            if image.dtype != np.uint8:  # datasets' NumPy format widens stored uint8 to int64
                if not (np.issubdtype(image.dtype, np.integer) and image.min() >= 0 and image.max() <= 255):
                    raise SelfsupError(f"Row {row} of column {self.column!r} has {image.dtype} pixels outside 0-255; "
                                       "images from a Hugging Face dataset are read as uint8 (an Image column, or "
                                       "arrays of 0-255).")
                image = image.astype(np.uint8)
            images.append(image)
        return np.stack(images)

    def __getitems__(self, positions: list[int]) -> dict[str, Any]:
        index = torch.as_tensor(positions, dtype=torch.long)
        x = torch.from_numpy(self._decode(list(positions))).permute(0, 3, 1, 2).contiguous()
        batch = {"x": x, "index": index}
        if self.labels is not None:
            batch["y"] = self.labels[index]
        return batch

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}


def hf_image_source(dataset: Any, column: str, target: str | None, seed: int = 0,
                    test_fraction: float = 0.2, name: str = "hf") -> DataSource:
    """An image DataSource streamed from ``dataset`` (see the module doc)."""
    n = len(dataset)
    if n == 0:
        raise SelfsupError("The Hugging Face dataset passed as data has no rows.")
    notes = [f"Images are decoded batch by batch from the dataset's Arrow files (column {column!r})."]
    labels, class_names = None, None
    if target is not None:
        (labels,), class_names = encode_labels([(target, np.asarray(dataset[target]), n)], f"column {target!r}")
    dataset = dataset.with_format("numpy", columns=[column])  # a batch of pixels as arrays, not lists
    everything = HFImageRows(dataset, column, np.arange(n))
    c = everything.shape[-1]
    spec = ImageSpec(c, *everything.shape[:2])
    common = {"name": name, "modality": "image", "input_spec": spec, "on_device": PixelsToFloat(255.0)}
    if labels is None or test_fraction == 0:
        return DataSource(train=HFImageRows(dataset, column, np.arange(n), labels), y_train=labels,
                          class_names=class_names, notes=notes, **common)
    train, test, split_notes = stratified_split(labels.numpy(), test_fraction, seed, class_names)
    order = torch.from_numpy(np.concatenate([train, test]))
    return DataSource(
        train=HFImageRows(dataset, column, train, labels[torch.from_numpy(train)]),
        test=HFImageRows(dataset, column, test, labels[torch.from_numpy(test)]),
        y_train=labels[torch.from_numpy(train)], y_test=labels[torch.from_numpy(test)], class_names=class_names,
        notes=notes + split_notes, source_index=order, **common,
    )


def read_image_object(data: Any, seed: int = 0, test_fraction: float = 0.2, **options: Any) -> DataSource | None:
    """The image modality's ``read_object``: a Hugging Face dataset streamed (``column``, ``target``
    options); anything else is left to the generic in-memory path (None)."""
    from selfsup.data.hf import hf_columns, is_hf
    from selfsup.data.objects import describe

    if not is_hf(data):
        return None
    column, target = hf_columns(data, options)
    if options:
        raise SelfsupError(f"A Hugging Face image dataset takes data.options column and target; not "
                           f"{', '.join(sorted(options))}.")
    return hf_image_source(data, column, target, seed=seed, test_fraction=test_fraction, name=describe(data))

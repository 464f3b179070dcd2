"""Label encoding and seeded stratified splits, shared by every modality's readers."""

from __future__ import annotations

import numpy as np
import torch

from selfsup.data.base import DataBundle
from selfsup.errors import SelfsupError


def check_fraction(test_fraction: float) -> None:
    if not 0.0 <= float(test_fraction) < 1.0:
        raise SelfsupError(f"test_fraction must be in [0, 1); got {test_fraction}.")



def encode_labels(
    named: list[tuple[str, np.ndarray, int]], file: str
) -> tuple[list[torch.Tensor], list[str]]:
    """Map labels of any dtype to int64 ``0..K-1`` over all splits, with ``class_names``.

    ``named`` holds ``(key, labels, expected_length)`` per split.
    """
    vectors = []
    for key, y, n in named:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise SelfsupError(
                f"{file} key {key!r} has shape {list(y.shape)}; labels must be a vector [N]."
            )
        if len(y) != n:
            raise SelfsupError(
                f"{file} key {key!r} has {len(y)} labels but the images have {n} samples; "
                "they must match one to one."
            )
        if np.issubdtype(y.dtype, np.floating):
            if not np.isfinite(y).all():
                raise SelfsupError(
                    f"{file} key {key!r} contains NaN/inf labels (first at index "
                    f"{int(np.argmin(np.isfinite(y)))}). Remove those samples."
                )
            if np.all(y == np.round(y)):
                y = y.astype(np.int64)  # 3.0 -> class "3", not "3.0"
        vectors.append(y)
    try:
        classes = np.unique(np.concatenate(vectors))
    except TypeError:
        raise SelfsupError(f"Labels in {file} mix numbers and strings; use one type.") from None
    encoded = [torch.from_numpy(np.searchsorted(classes, y).astype(np.int64)) for y in vectors]
    return encoded, [str(c) for c in classes.tolist()]


def stratified_split(
    y: np.ndarray, test_fraction: float, seed: int, class_names: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Seeded stratified split of class indices ``y [N]`` -> sorted (train, test) indices, notes.

    Each class gives ``test_fraction`` of its samples (largest remainder rounding so the total
    is ``round(test_fraction * N)``) but always keeps one in training, so a class with a
    single sample is training-only.
    """
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    ideal = test_fraction * counts
    n_test = np.minimum(np.floor(ideal).astype(int), counts - 1)
    for c in np.argsort(-(ideal - n_test), kind="stable"):
        if n_test.sum() >= round(test_fraction * len(y)):
            break
        n_test[c] += int(n_test[c] < counts[c] - 1)
    test = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, n_test)]
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=int)
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
    single = [class_names[c] if class_names else str(c) for c in classes[counts < 2]]
    notes = [] if not single or test_fraction == 0 else [
        (f"{len(single)} class(es) have a single sample ({', '.join(single[:5])}); kept in the "
         "training split, since a stratified test split needs 2 per class.")
    ]
    return train_idx, test_idx, notes


def split_bundle(
    name: str,
    modality: str,
    x: torch.Tensor,
    y: torch.Tensor | None,
    class_names: list[str] | None,
    seed: int,
    test_fraction: float,
    notes: list[str],
) -> DataBundle:
    """Labeled data gets a stratified test split; unlabeled data keeps every sample for training."""
    if y is None or test_fraction == 0:
        return DataBundle(name, modality, x, y, None, None, class_names, notes)
    train, test, split_notes = stratified_split(y.numpy(), test_fraction, seed, class_names)
    notes = notes + split_notes
    if len(test) == 0:
        notes.append(f"Too few samples ({len(y)}) for a test split of {test_fraction}; none made.")
        return DataBundle(name, modality, x, y, None, None, class_names, notes)
    train, test = torch.from_numpy(train), torch.from_numpy(test)
    bundle = DataBundle(name, modality, x[train], y[train], x[test], y[test], class_names, notes)
    bundle.source_index = torch.cat([train, test])
    return bundle

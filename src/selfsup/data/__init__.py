"""Data sources: built-in data sets by name, or files read by the modality's reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selfsup.data.base import ArrayDataset, DataBundle, DataSource, collate_batch
from selfsup.errors import SelfsupError
from selfsup.registry import DATASETS, check_kwargs

__all__ = ["ArrayDataset", "DataBundle", "DataSource", "check_data_spec", "collate_batch", "load_data"]


def check_data_spec(spec: str) -> None:
    """Raise the one clear error for a data spec that is neither a built-in name nor a path."""
    if spec in DATASETS or Path(spec).expanduser().exists():
        return
    # "ucr:Foo": a family of built-ins exists, the member does not
    prefix = spec.split(":", 1)[0] + ":" if ":" in spec else ""
    family = [n for n in DATASETS.names() if prefix and n.startswith(prefix)]
    if family:
        raise SelfsupError(
            f"Unknown built-in data set {spec!r}. The {prefix} sets that ship offline: "
            f"{', '.join(family)}. For another one, download <Name>_TRAIN.ts and <Name>_TEST.ts "
            "and pass the path with --modality timeseries."
        )
    raise SelfsupError(
        f"Data {spec!r} is neither a built-in data set nor an existing path. "
        f"Built-in data sets: {', '.join(DATASETS.names())}. "
        "Check the path, or run `selfsup datasets`."
    )


def load_data(
    spec: str,
    modality: str = "image",
    seed: int = 0,
    test_fraction: float = 0.2,
    **options: Any,
) -> DataSource:
    """Load ``spec`` — a built-in data set name (``"digits"``) or a path — as a DataSource.

    What a file holds is said by ``modality``, never guessed from its shape. Files without an
    explicit test split get a seeded stratified split of ``test_fraction`` when labeled.
    ``options`` (e.g. ``image_size=32``) go to the built-in data set or the modality's reader;
    one that it does not accept raises a SelfsupError listing the valid ones.
    """
    if spec in DATASETS:
        return DATASETS.build(spec, seed=seed, test_fraction=test_fraction, **options)
    check_data_spec(spec)
    path = Path(spec).expanduser()
    from selfsup.data.hf import is_hf_folder, load_hf_folder
    from selfsup.data.objects import source_from_object
    from selfsup.modality import get_modality

    if is_hf_folder(path):  # Hugging Face datasets' save_to_disk
        return source_from_object(load_hf_folder(path), modality, seed=seed, test_fraction=test_fraction, **options)
    reader = get_modality(modality).read
    check_kwargs(reader, options, f"the {modality!r} reader")
    return reader(path, seed=seed, test_fraction=test_fraction, **options)

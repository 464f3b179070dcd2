"""Hugging Face ``datasets``: telling a ``Dataset`` apart, choosing its input and label columns, and
reading a folder written by ``save_to_disk`` (local files only). How its rows become a DataSource
is :mod:`selfsup.data.objects`' (and the image modality's ``read_object``, which streams images)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selfsup.errors import SelfsupError


def is_hf(data: Any) -> bool:
    """A Hugging Face ``datasets.Dataset`` (checked without importing ``datasets``)."""
    return type(data).__module__.startswith("datasets.") and hasattr(data, "column_names")


def hf_image_columns(data: Any) -> list[str]:
    """The names of a Hugging Face dataset's ``Image`` columns."""
    return [name for name, feature in data.features.items() if type(feature).__name__ == "Image"]


def hf_columns(data: Any, options: dict[str, Any]) -> tuple[str, str | None]:
    """The input column (``column``; default an Image column, else ``x``, else the only column
    besides the label) and the label column (``target``; default ``label`` where there is one)
    of a Hugging Face dataset, checked."""
    names = list(data.column_names)
    target = options.pop("target", None) or ("label" if "label" in names else None)
    others = [name for name in names if name != target]
    column = options.pop("column", None) or next(iter(hf_image_columns(data)), None) or (
        "x" if "x" in names else others[0] if len(others) == 1 else None)
    for key, name in (("column", column), ("target", target)):
        if name is not None and name not in names:
            raise SelfsupError(f"data.options.{key}={name!r} is not a column of the dataset; its columns: "
                               f"{', '.join(names)}.")
    if column is None:
        raise SelfsupError(f"Which column holds the input? Set data.options.column to one of {', '.join(names)}.")
    return column, target


def is_hf_folder(path: Path) -> bool:
    """A folder written by ``datasets.Dataset.save_to_disk``."""
    return path.is_dir() and ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file())


def load_hf_folder(path: Path) -> Any:
    """The dataset saved in ``path`` (local files only), or one SelfsupError naming the folder."""
    try:
        import datasets
    except ImportError:
        raise SelfsupError(f"{path} was written by Hugging Face datasets' save_to_disk; reading it needs "
                           "pip install datasets.") from None
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as error:  # noqa: BLE001 - a folder of another version or a damaged one: say which
        raise SelfsupError(f"Could not read {path} with datasets {datasets.__version__} (written by another "
                           f"version, or damaged?): {str(error).splitlines()[0]}") from None
    if not is_hf(loaded):
        raise SelfsupError(f"{path} holds a DatasetDict ({', '.join(loaded)}); pass one split's folder, "
                           f"e.g. {path / next(iter(loaded))}.")
    return loaded

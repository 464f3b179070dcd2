"""RecBole's atomic files: where the ``recbole`` wheel keeps its example data sets, and how to read
one of its files — shared by every modality whose built-ins come from there (MovieLens 100K as
event sequences and as user–item interactions).

RecBole's dependency pins pull in packages selfsup does not need, so install it without them —
``pip install --no-deps recbole`` — and the files are found with ``importlib.util.find_spec``
without importing the package.

Atomic file format (RecBole's documentation, "Atomic Files"): tab-separated, one header line of
``name:type`` fields (``token``, ``token_seq``, ``float``, ``float_seq``).
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Any

from selfsup.errors import SelfsupError


def recbole_example_folder(name: str, kinds: tuple[str, ...], builtin: str) -> Path:
    """``dataset_example/<name>`` inside the installed ``recbole`` package (not imported), checked to
    hold ``<name>.<kind>`` for every kind; ``builtin`` names the selfsup data set in the error."""
    spec = importlib.util.find_spec("recbole")
    locations = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(locations[0]) / "dataset_example" / name if locations else None
    if folder is None or not all((folder / f"{name}.{kind}").is_file() for kind in kinds):
        raise SelfsupError(f"The built-in {builtin!r} reads the {name} files shipped in the 'recbole' wheel, "
                           "which is not installed. Install it without its dependencies: pip install --no-deps recbole")
    return folder


def ml100k_folder(builtin: str = "ml-100k") -> Path:
    """The MovieLens 100K atomic files (``ml-100k.inter``, ``.user``, ``.item``) of the wheel."""
    return recbole_example_folder("ml-100k", ("inter", "user", "item"), builtin)


def atomic_field_types(path: Path) -> dict[str, str]:
    """``{column name: RecBole type}`` from an atomic file's header (``user_id:token`` …); a column
    without ``:type`` gets ``""``."""
    try:
        with open(path, encoding="utf-8") as handle:
            header = handle.readline().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        raise SelfsupError(f"Could not read {path} as a RecBole atomic file: {error}") from None
    fields = [field.split(":", 1) for field in header.split("\t")]
    return {f[0]: (f[1] if len(f) > 1 else "") for f in fields}


def read_atomic(path: Path) -> Any:
    """A RecBole atomic file as a pandas DataFrame of strings with plain column names (``user_id``,
    not ``user_id:token``); empty cells stay empty strings."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SelfsupError(f"Could not read {path} as a RecBole atomic file (tab-separated, name:type header): "
                           f"{str(error).splitlines()[0]}") from None
    return frame.rename(columns=lambda c: c.split(":")[0])

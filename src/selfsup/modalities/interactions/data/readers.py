"""Reading interactions: CSV / TSV / Parquet files, RecBole atomic files, pandas DataFrames.

- A ``.csv`` / ``.tsv`` / ``.parquet`` file of rows ``(user, item[, rating][, time])``; the column
  names are options (``user_column`` …; RecBole's ``user_id``, ``item_id``, ``rating``,
  ``timestamp`` by default, each used when present).
- RecBole atomic files: a folder holding ``<name>.inter`` (and optionally ``<name>.user``,
  ``<name>.item``), or the ``.inter`` file itself; ``name:type`` headers are understood.
- A DataFrame through the API: :func:`interaction_data`.

Optional user and item tables (``user_features`` / ``item_features``: a file, or the atomic
folder's ``.user`` / ``.item``) give the labels the probes score (``user_label`` /
``item_label``: a column; a ``token_seq`` column counts by its first token).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from selfsup.data.recbole import read_atomic
from selfsup.errors import SelfsupError
from selfsup.eval.recommendation import Labels
from selfsup.modalities.interactions.data.features import entity_features
from selfsup.modalities.interactions.data.source import InteractionSource, interaction_source
from selfsup.modalities.interactions.data.table import (
    InteractionTable,
    feature_table,
    prepare_interactions,
)

TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".inter")


def read_table(path: Path, sep: str | None = None) -> pd.DataFrame:
    """A CSV / TSV / Parquet file or a RecBole atomic file as a DataFrame (atomic headers stripped
    of their ``:type``)."""
    suffix = path.suffix.lower()
    if suffix in (".inter", ".user", ".item"):
        return read_atomic(path)
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        separator = sep or ("\t" if suffix == ".tsv" else None)
        return pd.read_csv(path, sep=separator, engine="python" if separator is None else "c", dtype=str,
                           keep_default_na=False, na_values=[""])
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SelfsupError(f"Could not read {path} as an interactions table: {str(error).splitlines()[0]}") from None
    except ImportError:
        raise SelfsupError(f"Reading {path} needs pyarrow: pip install 'selfsup[interactions]'.") from None


def _present(frame: pd.DataFrame, name: str | None, default: str) -> str | None:
    """The column to use: the one asked for, else the default name when the table has it."""
    if name is not None:
        return name
    return default if default in frame.columns else None


def labels_from(table: pd.DataFrame | None, column: str | None, role: str, where: str) -> Labels | None:
    """Class labels from ``column`` of a feature table re-indexed by remapped id (a missing value
    is -1, unknown); a space-separated list of tokens counts by its first."""
    if table is None or column is None:
        return None
    if column not in table.columns:
        found = ", ".join(repr(str(c)) for c in table.columns)
        raise SelfsupError(f"{where} has no column {column!r} (data.options.{role}_label); its columns are: {found}.")
    values = table[column].astype("string").str.strip().str.split(" ").str[0]
    values = values.where(values.fillna("") != "", None)
    known = values.notna().to_numpy()
    names = sorted(set(values[known].tolist()))
    lookup = {n: i for i, n in enumerate(names)}
    y = np.array([lookup[v] if ok else -1 for v, ok in zip(values.tolist(), known)], dtype=np.int64)
    import torch

    return Labels(torch.from_numpy(y), names, column)


def interaction_data(
    frame: pd.DataFrame,
    name: str = "dataframe",
    user_column: str | None = None,
    item_column: str | None = None,
    rating_column: str | None = None,
    time_column: str | None = None,
    threshold: float | None = None,
    duplicates: str = "collapse",
    min_user_interactions: int = 0,
    min_item_interactions: int = 0,
    split: str = "ratio",
    ratios: list[float] | tuple[float, ...] = (0.8, 0.1, 0.1),
    time_scope: str = "user",
    user_features: pd.DataFrame | None = None,
    item_features: pd.DataFrame | None = None,
    user_label: str | None = None,
    item_label: str | None = None,
    seed: int = 0,
    first_line: int = 2,
    where: str | None = None,
    feature_where: tuple[str, str] = ("the user table", "the item table"),
) -> InteractionSource:
    """Interactions from a DataFrame (and optional user / item feature tables, one row per id
    whose first column — or ``user_column`` / ``item_column`` when present — is the id): the data
    source ``selfsup.pretrain(data=...)`` takes. Options as in the module doc of
    :mod:`selfsup.modalities.interactions.data.table` and :mod:`~.splits`."""
    where = where or name
    user = _present(frame, user_column, "user_id") or "user_id"
    item = _present(frame, item_column, "item_id") or "item_id"
    rating = _present(frame, rating_column, "rating")
    time = _present(frame, time_column, "timestamp")
    table = prepare_interactions(frame, where, user, item, rating, time, threshold, duplicates,
                                 min_user_interactions, min_item_interactions, first_line)
    notes: list[str] = []
    user_table = _features(user_features, user, table.user_ids, feature_where[0], "user", notes)
    item_table = _features(item_features, item, table.item_ids, feature_where[1], "item", notes)
    return interaction_source(
        table, name, split=split, ratios=ratios, time_scope=time_scope, seed=seed,
        user_labels=labels_from(user_table, user_label, "user", feature_where[0]),
        item_labels=labels_from(item_table, item_label, "item", feature_where[1]), notes=notes,
        user_features=entity_features(user_table, feature_where[0]),
        item_features=entity_features(item_table, feature_where[1]),
    )


def _features(frame: pd.DataFrame | None, id_column: str, ids: np.ndarray, where: str, role: str,
              notes: list[str]) -> pd.DataFrame | None:
    if frame is None:
        return None
    column = id_column if id_column in frame.columns else str(frame.columns[0])
    return feature_table(frame, column, ids, where, role, notes)


def read_interactions(
    path: Path,
    seed: int = 0,
    test_fraction: float = 0.2,
    user_column: str | None = None,
    item_column: str | None = None,
    rating_column: str | None = None,
    time_column: str | None = None,
    threshold: float | None = None,
    duplicates: str = "collapse",
    min_user_interactions: int = 0,
    min_item_interactions: int = 0,
    split: str = "ratio",
    ratios: list[float] | None = None,
    time_scope: str = "user",
    user_features: str | None = None,
    item_features: str | None = None,
    user_label: str | None = None,
    item_label: str | None = None,
    sep: str | None = None,
) -> InteractionSource:
    """The modality's reader (module doc). Without ``ratios``, 0.8 / 0.1 / 0.1 (``test_fraction``
    is not used: interactions are split per user)."""
    path = Path(path)
    inter, user_file, item_file = _locate(path)
    frame = read_table(inter, sep)
    user_path = Path(user_features) if user_features else user_file
    item_path = Path(item_features) if item_features else item_file
    for option, given in (("user_features", user_features), ("item_features", item_features)):
        if given and not Path(given).is_file():
            raise SelfsupError(f"data.options.{option}: {given} does not exist.")
    return interaction_data(
        frame, name=path.name, user_column=user_column, item_column=item_column, rating_column=rating_column,
        time_column=time_column, threshold=threshold, duplicates=duplicates,
        min_user_interactions=min_user_interactions, min_item_interactions=min_item_interactions, split=split,
        ratios=ratios or (0.8, 0.1, 0.1), time_scope=time_scope,
        user_features=read_table(user_path, sep) if user_path else None,
        item_features=read_table(item_path, sep) if item_path else None,
        user_label=user_label, item_label=item_label, seed=seed, where=str(inter),
        feature_where=(str(user_path), str(item_path)),
    )


def _locate(path: Path) -> tuple[Path, Path | None, Path | None]:
    """The interactions file and the atomic ``.user`` / ``.item`` beside it, if any."""
    if path.is_dir():
        inters = sorted(path.glob("*.inter"))
        if len(inters) != 1:
            raise SelfsupError(f"{path} is a folder; as RecBole atomic files it must hold one <name>.inter file "
                               f"(found {len(inters)}). Or pass the interactions file itself.")
        path = inters[0]
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise SelfsupError(f"{path}: interactions are read from {', '.join(TABLE_SUFFIXES)} files or a folder of "
                           "RecBole atomic files.")
    if path.suffix.lower() != ".inter":
        return path, None, None
    beside = [path.with_suffix(s) for s in (".user", ".item")]
    return path, *(p if p.is_file() else None for p in beside)


def atomic_table_counts(table: InteractionTable) -> dict[str, Any]:
    return {"users": table.num_users, "items": table.num_items, "interactions": len(table)}

"""From a table of (user, item[, rating][, timestamp]) rows to clean, remapped interactions.

:func:`prepare_interactions` does, in order, saying what it did in ``notes``:

1. checks the columns (an unknown name lists the columns found) and every value (a missing id, a
   non-numeric rating or an unparsable time names its line);
2. keeps the implicit-feedback positives: ``rating >= threshold`` when a threshold is set (every
   row counts otherwise, RecBole's default);
3. collapses duplicate (user, item) pairs to one (the latest; ``duplicates="keep"`` keeps them,
   ``"error"`` refuses them);
4. filters to the ``k``-core: users with fewer than ``min_user_interactions`` and items with fewer
   than ``min_item_interactions`` are dropped, repeatedly, until none is left;
5. remaps the ids to ``0 .. n - 1`` in sorted order of the original ids, which it keeps
   (``user_ids[u]`` is the file's id of user ``u``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from selfsup.errors import SelfsupError

DUPLICATES = ("collapse", "keep", "error")


@dataclass
class InteractionTable:
    """Clean interactions with remapped ids.

    Attributes:
        users / items: ``[n]`` int64 ids in ``0 .. num_users - 1`` / ``0 .. num_items - 1``.
        ratings / times: ``[n]`` float values, or None when the data has no such column.
        user_ids / item_ids: the original id (a string) of every remapped id.
        lines: ``[n]`` the line of the file each interaction comes from (for messages).
        notes: what was dropped or collapsed, for the user.
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray | None
    times: np.ndarray | None
    user_ids: np.ndarray
    item_ids: np.ndarray
    lines: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.users)


def check_columns(frame: pd.DataFrame, wanted: dict[str, str | None], where: str) -> None:
    """Refuse a column name that ``frame`` lacks, listing the columns it has. ``wanted`` maps the
    option (``user_column``) to the name asked for (None: not used)."""
    for option, name in wanted.items():
        if name is not None and name not in frame.columns:
            found = ", ".join(repr(str(c)) for c in frame.columns)
            raise SelfsupError(f"{where} has no column {name!r} (data.options.{option}); its columns are: {found}.")


def _ids(values: pd.Series, role: str, where: str, line: np.ndarray) -> np.ndarray:
    text = values.astype("string")
    missing = text.isna().to_numpy() | (text.fillna("").str.strip() == "").to_numpy()
    if missing.any():
        first = int(np.argmax(missing))
        raise SelfsupError(f"{where} line {line[first]}: the {role} id is missing. Every interaction needs a "
                           f"{role}; remove or fill the row.")
    return text.str.strip().to_numpy(dtype=object)


def numeric_column(values: pd.Series, role: str, where: str, line: np.ndarray) -> np.ndarray:
    """``values`` as float64; a value that is not a number names its line."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if bad.any():
        first = int(np.argmax(bad))
        raise SelfsupError(f"{where} line {line[first]}: the {role} {values.iloc[first]!r} is not a finite number.")
    return numbers


def time_column(values: pd.Series, where: str, line: np.ndarray) -> np.ndarray:
    """Timestamps as float64 seconds: numbers as they are, else dates parsed by pandas."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return numeric_column(values, "timestamp", where, line)
    dates = pd.to_datetime(values.astype("string"), errors="coerce", format="mixed")
    bad = dates.isna().to_numpy()
    if bad.any():
        first = int(np.argmax(bad))
        raise SelfsupError(f"{where} line {line[first]}: the timestamp {values.iloc[first]!r} is neither a number "
                           "nor a date.")
    return (dates - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=np.float64)


def prepare_interactions(
    frame: pd.DataFrame,
    where: str,
    user: str = "user_id",
    item: str = "item_id",
    rating: str | None = None,
    time: str | None = None,
    threshold: float | None = None,
    duplicates: str = "collapse",
    min_user_interactions: int = 0,
    min_item_interactions: int = 0,
    first_line: int = 2,
) -> InteractionTable:
    """Clean interactions from ``frame`` (module doc). ``where`` names the data in messages and
    ``first_line`` is the file line of the first row (2 under a header)."""
    check_columns(frame, {"user_column": user, "item_column": item, "rating_column": rating,
                          "time_column": time}, where)
    if duplicates not in DUPLICATES:
        raise SelfsupError(f"data.options.duplicates is one of {', '.join(DUPLICATES)}; got {duplicates!r}.")
    if threshold is not None and rating is None:
        raise SelfsupError(f"data.options.threshold={threshold} keeps ratings >= it, but {where} has no rating column "
                           "(set data.options.rating_column).")
    for option, value in (("min_user_interactions", min_user_interactions),
                          ("min_item_interactions", min_item_interactions)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SelfsupError(f"data.options.{option} must be a whole number >= 0; got {value!r}.")
    if len(frame) == 0:
        raise SelfsupError(f"{where} holds no interactions.")
    lines = np.arange(len(frame), dtype=np.int64) + first_line
    users = _ids(frame[user], "user", where, lines)
    items = _ids(frame[item], "item", where, lines)
    ratings = numeric_column(frame[rating], "rating", where, lines) if rating is not None else None
    times = time_column(frame[time], where, lines) if time is not None else None
    notes: list[str] = []
    keep = np.ones(len(frame), dtype=bool)
    if threshold is not None:
        keep = ratings >= threshold
        notes.append(f"{where}: kept the {int(keep.sum()):,} of {len(keep):,} interactions rated >= {threshold:g} "
                     "(implicit feedback; data.options.threshold).")
        if not keep.any():
            raise SelfsupError(f"{where}: no rating is >= the threshold {threshold:g}; lower data.options.threshold.")
    users, items, lines = users[keep], items[keep], lines[keep]
    ratings = ratings[keep] if ratings is not None else None
    times = times[keep] if times is not None else None
    keep = _duplicates(users, items, times, duplicates, where, lines, notes)
    users, items, lines = users[keep], items[keep], lines[keep]
    ratings = ratings[keep] if ratings is not None else None
    times = times[keep] if times is not None else None
    user_ids, user_index = np.unique(users.astype(str), return_inverse=True)
    item_ids, item_index = np.unique(items.astype(str), return_inverse=True)
    keep = k_core(user_index, item_index, min_user_interactions, min_item_interactions)
    if not keep.all():
        dropped_users = len(user_ids) - len(np.unique(user_index[keep]))
        dropped_items = len(item_ids) - len(np.unique(item_index[keep]))
        notes.append(f"{where}: the {min_user_interactions}/{min_item_interactions}-core filter (users/items with fewer "
                     f"interactions are dropped, repeatedly) dropped {int((~keep).sum()):,} interactions, "
                     f"{dropped_users:,} users and {dropped_items:,} items.")
        if not keep.any():
            raise SelfsupError(f"{where}: no interaction is left after the k-core filter; lower "
                               "data.options.min_user_interactions / min_item_interactions.")
    user_ids, user_index = np.unique(user_ids[user_index[keep]], return_inverse=True)
    item_ids, item_index = np.unique(item_ids[item_index[keep]], return_inverse=True)
    return InteractionTable(
        users=user_index.astype(np.int64), items=item_index.astype(np.int64),
        ratings=None if ratings is None else ratings[keep].astype(np.float32),
        times=None if times is None else times[keep], user_ids=user_ids.astype(object),
        item_ids=item_ids.astype(object), lines=lines[keep], notes=notes,
    )


def _duplicates(users: np.ndarray, items: np.ndarray, times: np.ndarray | None, mode: str, where: str,
                lines: np.ndarray, notes: list[str]) -> np.ndarray:
    """Rows to keep: with ``collapse``, the latest row of each (user, item) pair (the last in the
    file when there are no times)."""
    pairs = pd.DataFrame({"u": users, "i": items})
    repeated = pairs.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return np.ones(len(users), dtype=bool)
    n_extra = int(pairs.duplicated().sum())
    first = int(np.argmax(pairs.duplicated().to_numpy()))
    example = f"user {users[first]!r} and item {items[first]!r} again at line {lines[first]}"
    if mode == "error":
        raise SelfsupError(f"{where} holds {n_extra:,} duplicate interactions ({example}); set "
                           "data.options.duplicates to collapse or keep.")
    if mode == "keep":
        notes.append(f"{where}: kept {n_extra:,} duplicate interactions ({example}) as repeated positives "
                     "(data.options.duplicates: keep).")
        return np.ones(len(users), dtype=bool)
    order = np.arange(len(users)) if times is None else np.lexsort((np.arange(len(users)), times))
    keep = np.zeros(len(users), dtype=bool)
    last = pairs.iloc[order].duplicated(keep="last").to_numpy()
    keep[order[~last]] = True
    notes.append(f"{where}: collapsed {n_extra:,} duplicate interactions to one per (user, item), the latest "
                 f"({example}; data.options.duplicates).")
    return keep


def k_core(users: np.ndarray, items: np.ndarray, min_user: int, min_item: int) -> np.ndarray:
    """``[n]`` bool: the interactions of the (``min_user``, ``min_item``)-core, by repeated removal
    of the users and items below their minimum."""
    keep = np.ones(len(users), dtype=bool)
    if min_user <= 1 and min_item <= 1:
        return keep
    while True:
        user_count = np.bincount(users[keep], minlength=int(users.max()) + 1)
        item_count = np.bincount(items[keep], minlength=int(items.max()) + 1)
        ok = keep & (user_count[users] >= min_user) & (item_count[items] >= min_item)
        if ok.sum() == keep.sum():
            return ok
        keep = ok


def feature_table(frame: pd.DataFrame, id_column: str, ids: np.ndarray, where: str, role: str,
                  notes: list[str]) -> pd.DataFrame:
    """``frame`` (one row per user or item) re-indexed by the remapped ids ``ids``: rows whose id has
    no interaction are dropped and counted; ids without a row get missing values (counted)."""
    check_columns(frame, {f"{role}_id_column": id_column}, where)
    keys = frame[id_column].astype("string").str.strip()
    if keys.duplicated().any():
        first = int(np.argmax(keys.duplicated().to_numpy()))
        raise SelfsupError(f"{where} line {first + 2}: the {role} id {keys.iloc[first]!r} appears twice; a feature "
                           "table has one row per id.")
    table = frame.set_axis(keys.to_numpy(dtype=object)).drop(columns=[id_column])
    known, listed = set(ids.tolist()), set(table.index.tolist())
    unused = len(listed - known)
    if unused:
        notes.append(f"{where}: {unused:,} {role}s have no interaction (after filtering) and were left out.")
    missing = len(known - listed)
    if missing:
        notes.append(f"{where}: {missing:,} {role}s of the interactions have no row here; their features are "
                     "missing (unknown category, 0).")
    return table.reindex(ids)


def describe_counts(table: InteractionTable) -> dict[str, Any]:
    n = len(table)
    return {"users": table.num_users, "items": table.num_items, "interactions": n,
            "density": round(n / max(1, table.num_users * table.num_items), 6)}

"""Which columns are features, numeric or categorical, and which is the target: inferred from a
DataFrame and the user's ``data.options`` (``target``, ``categorical``, ``numeric``), with one
:class:`SelfsupError` per mistake naming the column (and, for a bad value, its row).

Inference is deliberately plain, so a user can predict it: a column pandas reads as numbers
(int, float) is numeric; anything else (text, booleans, pandas categories) is categorical. A
column that holds numbers in some rows and text in others is refused (it is usually a typo or
a placeholder such as ``"n/a"``); listing it in ``categorical`` takes every value as a category.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from selfsup.errors import SelfsupError, closest

MISSING_CATEGORY = "<missing>"


@dataclass(frozen=True)
class TableSchema:
    """The roles of a table's columns, in the table's column order."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    target: str | None = None


def _as_list(value: str | Sequence[str] | None, option: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SelfsupError(f"data.options.{option} must be a column name or a list of column names; got {value!r}.")
    return list(value)


def _check_names(names: list[str], option: str, columns: list[str], where: str) -> None:
    for name in names:
        if name not in columns:
            near = closest(name, columns)
            hint = f" Did you mean {', '.join(repr(c) for c in near)}?" if near else ""
            raise SelfsupError(f"data.options.{option} names column {name!r}, which {where} does not have.{hint} "
                               f"Its columns: {', '.join(columns)}.")


def infer_schema(
    frame: pd.DataFrame,
    where: str,
    row_name: Callable[[int], str],
    target: str | None = None,
    categorical: str | Sequence[str] | None = None,
    numeric: str | Sequence[str] | None = None,
) -> TableSchema:
    """The schema of ``frame`` (``where`` names it in errors; ``row_name(p)`` names its row at
    position ``p``, e.g. the CSV line). Columns not given are inferred (module doc)."""
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        twice = sorted({c for c in columns if columns.count(c) > 1})
        raise SelfsupError(f"{where} has more than one column named {', '.join(repr(c) for c in twice)}; rename them.")
    given_categorical, given_numeric = _as_list(categorical, "categorical"), _as_list(numeric, "numeric")
    if target is not None and not isinstance(target, str):
        raise SelfsupError(f"data.options.target must be one column name; got {target!r}.")
    _check_names([target] if target else [], "target", columns, where)
    _check_names(given_categorical, "categorical", columns, where)
    _check_names(given_numeric, "numeric", columns, where)
    for option, names in (("categorical", given_categorical), ("numeric", given_numeric)):
        if target in names:
            raise SelfsupError(f"Column {target!r} is the target and is also listed in data.options.{option}: "
                               "a feature must not be the label it predicts. Remove it from one of them.")
    both = [c for c in given_categorical if c in given_numeric]
    if both:
        raise SelfsupError(f"Column {both[0]!r} is listed in both data.options.categorical and data.options.numeric.")
    features = [c for c in columns if c != target]
    if not features:
        raise SelfsupError(f"{where} has no feature columns (only the target {target!r}).")
    numeric_cols, categorical_cols = [], []
    for column in features:
        values = frame[column]
        present = values.notna().to_numpy()
        if not present.any():
            raise SelfsupError(f"Column {column!r} of {where} is missing in every row; drop it from the table.")
        if column in given_categorical:
            categorical_cols.append(column)
        elif column in given_numeric or pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            check_numbers(values, column, row_name, declared=column in given_numeric)
            numeric_cols.append(column)
        else:
            _refuse_mixed(values, column, row_name)
            categorical_cols.append(column)
    return TableSchema(tuple(numeric_cols), tuple(categorical_cols), target)


def check_numbers(values: pd.Series, column: str, row_name: Callable[[int], str], declared: bool = False) -> None:
    """Refuse a numeric column with text (``declared``: the user listed it as numeric) or an
    infinite value, naming the row."""
    parsed = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(values.notna().to_numpy() & np.isnan(parsed))
    if len(bad):
        p = int(bad[0])
        raise SelfsupError(f"Column {column!r} is numeric{' (data.options.numeric)' if declared else ''} but "
                           f"{row_name(p)} holds {values.iloc[p]!r}, not a number. Fix the value, or list the "
                           "column in data.options.categorical.")
    infinite = np.flatnonzero(np.isinf(parsed))
    if len(infinite):
        raise SelfsupError(f"Column {column!r} holds an infinite value at {row_name(int(infinite[0]))}; "
                           "replace it with a number, or leave the cell empty (missing).")


def _refuse_mixed(values: pd.Series, column: str, row_name: Callable[[int], str]) -> None:
    """A text column where some values are numbers and others are not is refused, naming the
    first row that disagrees with the column's majority kind."""
    present = values.notna().to_numpy()
    is_number = pd.to_numeric(values, errors="coerce").notna().to_numpy()
    numbers, texts = int((present & is_number).sum()), int((present & ~is_number).sum())
    if numbers == 0 or texts == 0:
        return
    odd = present & (~is_number if numbers >= texts else is_number)
    p = int(np.flatnonzero(odd)[0])
    kind, majority = ("text", "numbers") if numbers >= texts else ("a number", "text")
    raise SelfsupError(
        f"Column {column!r} mixes types: {numbers} rows hold numbers and {texts} hold text; {row_name(p)} "
        f"holds {kind} ({values.iloc[p]!r}) while most rows hold {majority}. Fix that value (an empty cell "
        "is read as missing), or list the column in data.options.categorical to take every value as a category."
    )


def category_strings(values: pd.Series) -> np.ndarray:
    """A categorical column as strings, missing values as :data:`MISSING_CATEGORY`."""
    out = values.astype(object).where(values.notna(), MISSING_CATEGORY)
    return np.asarray([v if isinstance(v, str) else str(v) for v in out], dtype=object)

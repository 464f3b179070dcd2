"""CSV time series: long form (``series_id, time, <channels...>``) and wide form (one series a row).

Parsed with the standard ``csv`` module into a :class:`~selfsup.modalities.timeseries.data.files.RawSeries`; every
mistake names the file, the line and the column. A long-form file with a ``group`` column holds
one row per device and timestamp of a multi-device recording; it is folded into
``[N, D, T, C]`` (see :func:`~selfsup.modalities.timeseries.data.files.fold_devices`).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.data.files import (
    MISSING_TOKENS,
    RawSeries,
    fold_devices,
    is_number,
    label_values,
    pad_series,
)

__all__ = ["read_csv_series"]


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data rows and their line numbers; raises on a ragged row or an empty file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header: list[str] | None = None
            rows, lines = [], []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # blank line
                if header is None:
                    header = [cell.strip() for cell in row]
                    continue
                if len(row) != len(header):
                    raise SelfsupError(
                        f"{path} is ragged: line {reader.line_num} has {len(row)} fields but the "
                        f"header has {len(header)} ({', '.join(header)}). Every row needs one "
                        "field per column; leave a cell empty (a,,b) for a missing value."
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as error:
        raise SelfsupError(f"{path} is not UTF-8 text ({error}); save it as UTF-8 CSV.") from None
    except csv.Error as error:
        raise SelfsupError(f"Could not parse {path} as CSV: {error}") from None
    if header is None or not rows:
        raise SelfsupError(
            f"{path} is empty{' apart from its header' if header else ''}: no series to read."
        )
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise SelfsupError(f"{path} has duplicate column names: {', '.join(duplicated)}.")
    if all(is_number(cell) for cell in header):
        raise SelfsupError(
            f"{path} has no header row (its first line is all numbers). Add one: "
            "'series_id,time,<channel...>[,label]' for long form, or "
            "'label,t0,t1,...' for wide form (one series per row)."
        )
    return header, rows, lines


def _to_float(cells: np.ndarray, path: Path, lines: list[int], columns: list[str]) -> np.ndarray:
    """String cells ``[R, K]`` -> float64, missing tokens -> NaN; names the first bad cell."""
    stripped = np.char.strip(cells.astype(str))
    missing = np.isin(np.char.lower(stripped), MISSING_TOKENS)
    filled = np.where(missing, "nan", stripped)
    try:
        return filled.astype(np.float64)
    except ValueError:
        pass
    for r in range(filled.shape[0]):
        for k in range(filled.shape[1]):
            try:
                filled[r, k : k + 1].astype(np.float64)
            except ValueError:
                cell = str(stripped[r, k])
                raise SelfsupError(
                    f"{path} line {lines[r]}, column {columns[k]!r}: {cell!r} is not a number. "
                    "Values must be numeric (leave the cell empty or write NaN for no "
                    "observation)."
                ) from None
    raise SelfsupError(f"{path} holds values that are not numbers.")  # pragma: no cover


def read_csv_series(
    path: Path, label_column: str | None, id_column: str, time_column: str,
    group_column: str | None = "group",
) -> RawSeries:
    """Read a long-form CSV (has ``id_column``) or a wide-form one (one series per row)."""
    header, rows, lines = _read_rows(path)
    cells = np.asarray(rows, dtype=str)
    label_at = header.index(label_column) if label_column and label_column in header else None
    group_at = header.index(group_column) if group_column and group_column in header else None
    if id_column in header:
        return _read_long(path, header, cells, lines, label_at, id_column, time_column, group_at)
    if group_at is not None:
        raise SelfsupError(
            f"{path} has a {group_column!r} column (the device of each row) but no "
            f"{id_column!r} column; multi-device CSV is long form: {id_column}, "
            f"{group_column}, {time_column}, <channels...>."
        )
    return _read_wide(path, header, cells, lines, label_at)


def _read_long(
    path: Path, header: list[str], cells: np.ndarray, lines: list[int],
    label_at: int | None, id_column: str, time_column: str, group_at: int | None = None,
) -> RawSeries:
    if time_column not in header:
        raise SelfsupError(
            f"{path} is long form (it has a {id_column!r} column) but has no {time_column!r} "
            f"column (columns: {', '.join(header)}). Add it, or name it with time_column=..."
        )
    id_at, time_at = header.index(id_column), header.index(time_column)
    channel_at = [k for k in range(len(header)) if k not in (id_at, time_at, label_at, group_at)]
    if not channel_at:
        raise SelfsupError(f"{path} has no channel columns besides {', '.join(header)}.")
    channels = [header[k] for k in channel_at]
    values = _to_float(cells[:, channel_at], path, lines, channels)
    times = _parse_times(cells[:, time_at], path, lines, time_column)
    ids = np.char.strip(cells[:, id_at]).tolist()
    groups = np.char.strip(cells[:, group_at]).tolist() if group_at is not None else None
    if groups is not None and "" in groups:
        raise SelfsupError(
            f"{path} line {lines[groups.index('')]} has no {header[group_at]!r} (the device "
            "that recorded the row)."
        )
    # one series per series_id, or per (series_id, device) when a group column names devices
    order: dict[tuple[str, ...], list[int]] = {}
    for r, sid in enumerate(ids):
        order.setdefault((sid,) if groups is None else (sid, groups[r]), []).append(r)

    def name(key: tuple[str, ...]) -> str:
        device = f", {header[group_at]} {key[1]!r}" if len(key) > 1 else ""
        return f"{id_column} {key[0]!r}{device}"

    series, labels = [], []
    for key, members in order.items():
        members = np.asarray(members)
        members = members[np.argsort(times[members], kind="stable")]
        same = np.flatnonzero(times[members][1:] == times[members][:-1])
        if len(same):
            a, b = members[same[0]], members[same[0] + 1]
            raise SelfsupError(
                f"{path} has duplicate rows for {name(key)} at time "
                f"{cells[a, time_at].strip()!r} (lines {lines[a]} and {lines[b]}). Each "
                f"({id_column}, {time_column}) pair must appear once"
                f"{' per device' if groups is not None else ''}."
            )
        series.append(values[members])
        if label_at is not None:
            found = sorted(set(np.char.strip(cells[members, label_at]).tolist()))
            if len(found) > 1:
                raise SelfsupError(
                    f"{path}: {name(key)} has {len(found)} different labels "
                    f"({', '.join(repr(v) for v in found[:5])}); a label is constant per series."
                )
            if found[0].lower() in MISSING_TOKENS:
                raise SelfsupError(
                    f"{path}: {name(key)} has no label (line {lines[members[0]]}). Give "
                    "every series a label, or read it unlabeled with label_column=None."
                )
            labels.append(found[0])
    keys = list(order)
    raw = RawSeries(
        pad_series(series), label_values(labels) if label_at is not None else None,
        str(path), lambda i: name(keys[i]), channels,
    )
    if groups is None:
        return raw
    return fold_devices(
        raw, [k[1] for k in keys], [k[0] for k in keys], lambda w: f"{id_column} {w!r}"
    )


def _parse_times(column: np.ndarray, path: Path, lines: list[int], name: str) -> np.ndarray:
    """Numbers, or ISO 8601 date-times; anything else is an error naming the first bad line."""
    stripped = np.char.strip(column)
    # a missing time is refused before parsing: read as a date, a blank is NaT and turns the
    # whole column into dates (numbers become years) and its row sorts first, silently
    missing = np.flatnonzero(np.isin(np.char.lower(stripped), ["", "nan", "nat", "na", "null", "none"]))
    if missing.size:
        raise SelfsupError(f"{path} line {lines[int(missing[0])]} has no value in column {name!r}.")
    try:
        times = stripped.astype(np.float64)
    except ValueError:
        try:
            times = stripped.astype("datetime64[ns]").astype(np.int64).astype(np.float64)
            numeric = [r for r, v in enumerate(stripped.tolist()) if is_number(v)]
            if numeric:  # "2024" read as a year beside real dates: a mix, not a column of dates
                raise SelfsupError(
                    f"{path} line {lines[numeric[0]]}, column {name!r}: {str(stripped[numeric[0]])!r} is a "
                    "number in a column of date-times; use one kind for the whole column."
                )
        except ValueError:
            bad = next(
                r for r, v in enumerate(stripped.tolist())
                if not is_number(v) and not _is_datetime(v)
            )
            raise SelfsupError(
                f"{path} line {lines[bad]}, column {name!r}: {str(stripped[bad])!r} is neither "
                "a number nor an ISO 8601 date-time (2024-01-31 12:00:00)."
            ) from None
    if np.isnan(times).any():
        bad = int(np.argmax(np.isnan(times)))
        raise SelfsupError(f"{path} line {lines[bad]} has no value in column {name!r}.")
    return times


def _is_datetime(value: str) -> bool:
    try:
        np.datetime64(value)
    except ValueError:
        return False
    return value.lower() != "nat"


def _read_wide(
    path: Path, header: list[str], cells: np.ndarray, lines: list[int], label_at: int | None
) -> RawSeries:
    value_at = [k for k in range(len(header)) if k != label_at]
    if not value_at:
        raise SelfsupError(f"{path} has a label column but no value columns.")
    values = _to_float(cells[:, value_at], path, lines, [header[k] for k in value_at])
    labels = None
    if label_at is not None:
        raw = np.char.strip(cells[:, label_at])
        unlabeled = np.isin(np.char.lower(raw), MISSING_TOKENS)
        if unlabeled.any():
            raise SelfsupError(
                f"{path} line {lines[int(np.argmax(unlabeled))]} has no {header[label_at]!r}. "
                "Give every series a label, or read it unlabeled with label_column=None."
            )
        labels = label_values(raw.tolist())
    return RawSeries(values[:, :, None], labels, str(path), lambda i: f"line {lines[i]}", ["value"])

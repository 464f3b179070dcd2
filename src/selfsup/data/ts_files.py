"""Time-series file parsers: ``.npy``/``.npz``, CSV (long/wide form), UCR/UEA ``.ts`` archives.

Each parser returns a :class:`RawSeries`: float64 ``x [N, T, C]`` padded at the end with NaN
to the longest series, the raw labels (or None) and, per series, a phrase naming it in error
messages. Validation that every source shares (holes, infinite values, label encoding, train
vs. test channels) happens once in :mod:`selfsup.data.timeseries`.

CSV needs no extra package (the standard ``csv`` module); ``.ts`` goes through aeon's reader,
imported only when a ``.ts`` file is read.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from selfsup.data.base import np_load
from selfsup.errors import SelfsupError

# Cells read as "no observation" (NaN), compared case-insensitively after stripping spaces.
MISSING_TOKENS = ("", "nan", "na", "n/a", "null", "none", "?")

PAIRED_SUFFIXES = (".ts", ".csv")  # formats whose test split is a <Name>_TEST file

AEON_HINT = (
    "Reading UCR/UEA .ts files (and the ucr:/uea: built-ins) needs aeon: "
    "pip install selfsup[timeseries]  (or: pip install aeon)."
)


@dataclass
class RawSeries:
    """One split of a time-series file before validation."""

    x: np.ndarray
    """float64 ``[N, T, C]`` (or ``[N, D, T, C]``), NaN-padded at the end."""
    labels: np.ndarray | None
    """``[N]`` raw label values (numbers or strings), or None when unlabeled."""
    where: str
    """The file (and key) the split came from, for messages."""
    describe: Callable[[int], str]
    """Series index -> how a user finds it in the file (``"series_id 'a'"``, ``"line 7"``)."""
    channels: list[str] | None = None
    """Channel names where the file has them (long-form CSV columns)."""
    devices: list[str] | None = None
    """Device names of ``[N, D, T, C]`` data where the file has them (npz key ``devices``)."""
    notes: list[str] = field(default_factory=list)


def pad_series(series: Sequence[np.ndarray], length: int | None = None) -> np.ndarray:
    """Stack ``[T_i, C]`` arrays into ``[N, max T_i, C]``, padding each at the END with NaN."""
    length = max(len(s) for s in series) if length is None else length
    out = np.full((len(series), length, series[0].shape[1]), np.nan, dtype=np.float64)
    for i, s in enumerate(series):
        out[i, : len(s)] = s
    return out


def label_values(labels: Sequence[str]) -> np.ndarray:
    """Text labels -> numbers when every label is a number (so "2" sorts before "10")."""
    text = np.asarray([str(v).strip() for v in labels], dtype=str)
    try:
        return text.astype(np.float64)
    except ValueError:
        return text


def row_phrase(key: str) -> Callable[[int], str]:
    return lambda i: f"series {i} (row {i}{f' of key {key!r}' if key else ''})"


# --------------------------------------------------------------------------- arrays (.npy, .npz)


def read_npz(path: Path) -> tuple[RawSeries, RawSeries | None, list[str]]:
    keys_read = ("x", "y", "x_test", "y_test", "devices")
    with np_load(path) as archive:
        keys = list(archive.files)
        if "x" not in keys:
            raise SelfsupError(
                f"{path} has no key 'x' (keys found: {', '.join(keys) or 'none'}). Save the "
                "series as x [N, T, C] (and optionally y, x_test, y_test, devices): "
                "np.savez(file, x=series, y=labels)."
            )
        try:
            arrays = {k: archive[k] for k in keys_read if k in keys}
        except ValueError:
            raise SelfsupError(
                f"{path} holds Python objects, which are not loaded for safety. Save plain "
                "numeric arrays (labels as ints or np.array(labels, dtype=str))."
            ) from None
    ignored = sorted(set(keys) - set(arrays))
    notes = [f"Ignored keys in {path.name}: {', '.join(ignored)}."] if ignored else []
    if "y_test" in arrays and "x_test" not in arrays:
        raise SelfsupError(f"{path} has y_test but no x_test; add x_test or remove y_test.")
    if "x_test" in arrays and ("y" in arrays) != ("y_test" in arrays):
        raise SelfsupError(
            f"{path} has x_test and only one of y / y_test; give labels for both splits or neither."
        )
    train = RawSeries(arrays["x"], arrays.get("y"), f"{path.name} (key 'x')", row_phrase("x"))
    test = None
    if "x_test" in arrays:
        test = RawSeries(
            arrays["x_test"], arrays.get("y_test"), f"{path.name} (key 'x_test')",
            row_phrase("x_test"),
        )
    if "devices" in arrays:
        devices = np.asarray(arrays["devices"]).reshape(-1)
        if arrays["x"].ndim != 4 or len(devices) != arrays["x"].shape[1]:
            raise SelfsupError(
                f"{path} key 'devices' names {len(devices)} devices but x has shape "
                f"{list(arrays['x'].shape)}; multi-device series are [N, D, T, C] with D names."
            )
        train.devices = [str(d) for d in devices.tolist()]
    return train, test, notes


# --------------------------------------------------------------------------- paired files


def test_file_for(path: Path) -> Path | None:
    """``Name_TRAIN.ext`` -> ``Name_TEST.ext`` beside it when that exists (case kept)."""
    stem = path.stem
    if not stem.upper().endswith("_TRAIN"):
        return None
    marker = stem[-len("TRAIN"):]
    test_marker = "TEST" if marker.isupper() else "test" if marker.islower() else "Test"
    candidate = path.with_name(f"{stem[: -len('TRAIN')]}{test_marker}{path.suffix}")
    return candidate if candidate.exists() else None


def train_file_in(folder: Path) -> Path:
    found = sorted(
        p for p in folder.iterdir()
        if p.suffix.lower() in PAIRED_SUFFIXES and p.stem.upper().endswith("_TRAIN")
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise SelfsupError(
            f"{folder} holds no <Name>_TRAIN.ts or <Name>_TRAIN.csv file. Pass a file "
            "(.npy, .npz, .csv, .ts) or a folder with one <Name>_TRAIN / <Name>_TEST pair."
        )
    raise SelfsupError(
        f"{folder} holds several training files ({', '.join(p.name for p in found)}); pass "
        "the one to read."
    )


# --------------------------------------------------------------------------- CSV


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
    if all(_is_number(cell) for cell in header):
        raise SelfsupError(
            f"{path} has no header row (its first line is all numbers). Add one: "
            "'series_id,time,<channel...>[,label]' for long form, or "
            "'label,t0,t1,...' for wide form (one series per row)."
        )
    return header, rows, lines


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


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
    path: Path, label_column: str | None, id_column: str, time_column: str
) -> RawSeries:
    """Read a long-form CSV (has ``id_column``) or a wide-form one (one series per row)."""
    header, rows, lines = _read_rows(path)
    cells = np.asarray(rows, dtype=str)
    label_at = header.index(label_column) if label_column and label_column in header else None
    if id_column in header:
        return _read_long(path, header, cells, lines, label_at, id_column, time_column)
    return _read_wide(path, header, cells, lines, label_at)


def _read_long(
    path: Path, header: list[str], cells: np.ndarray, lines: list[int],
    label_at: int | None, id_column: str, time_column: str,
) -> RawSeries:
    if time_column not in header:
        raise SelfsupError(
            f"{path} is long form (it has a {id_column!r} column) but has no {time_column!r} "
            f"column (columns: {', '.join(header)}). Add it, or name it with time_column=..."
        )
    id_at, time_at = header.index(id_column), header.index(time_column)
    channel_at = [k for k in range(len(header)) if k not in (id_at, time_at, label_at)]
    if not channel_at:
        raise SelfsupError(f"{path} has no channel columns besides {', '.join(header)}.")
    channels = [header[k] for k in channel_at]
    values = _to_float(cells[:, channel_at], path, lines, channels)
    times = _parse_times(cells[:, time_at], path, lines, time_column)
    ids = np.char.strip(cells[:, id_at])
    order: dict[str, list[int]] = {}
    for r, sid in enumerate(ids.tolist()):
        order.setdefault(sid, []).append(r)
    series, labels = [], []
    for sid, members in order.items():
        members = np.asarray(members)
        members = members[np.argsort(times[members], kind="stable")]
        same = np.flatnonzero(times[members][1:] == times[members][:-1])
        if len(same):
            a, b = members[same[0]], members[same[0] + 1]
            raise SelfsupError(
                f"{path} has duplicate rows for series_id {sid!r} at time "
                f"{cells[a, time_at].strip()!r} (lines {lines[a]} and {lines[b]}). Each "
                "(series_id, time) pair must appear once."
            )
        series.append(values[members])
        if label_at is not None:
            found = sorted(set(np.char.strip(cells[members, label_at]).tolist()))
            if len(found) > 1:
                raise SelfsupError(
                    f"{path}: series_id {sid!r} has {len(found)} different labels "
                    f"({', '.join(repr(v) for v in found[:5])}); a label is constant per series."
                )
            if found[0].lower() in MISSING_TOKENS:
                raise SelfsupError(
                    f"{path}: series_id {sid!r} has no label (line {lines[members[0]]}). Give "
                    "every series a label, or read it unlabeled with label_column=None."
                )
            labels.append(found[0])
    names = list(order)
    return RawSeries(
        pad_series(series), label_values(labels) if label_at is not None else None,
        str(path), lambda i: f"series_id {names[i]!r}", channels,
    )


def _parse_times(column: np.ndarray, path: Path, lines: list[int], name: str) -> np.ndarray:
    """Numbers, or ISO 8601 date-times; anything else is an error naming the first bad line."""
    stripped = np.char.strip(column)
    try:
        times = stripped.astype(np.float64)
    except ValueError:
        try:
            times = stripped.astype("datetime64[ns]").astype(np.int64).astype(np.float64)
        except ValueError:
            bad = next(
                r for r, v in enumerate(stripped.tolist())
                if not _is_number(v) and not _is_datetime(v)
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


# --------------------------------------------------------------------------- .ts (aeon)


def aeon_dir() -> Path | None:
    """Where aeon is installed, found WITHOUT importing it (its import pulls in numba)."""
    try:
        spec = importlib.util.find_spec("aeon")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def read_ts_file(path: Path) -> RawSeries:
    """Read a UCR/UEA ``.ts`` file with aeon's ``load_from_ts_file``: ``[N, T, C]``, NaN-padded.

    aeon returns ``[N, C, T]`` for equal-length files and a list of ``[C, T_i]`` otherwise;
    missing values (``?``) come back as NaN.
    """
    try:
        from aeon.datasets import load_from_ts_file
    except ImportError:
        raise SelfsupError(f"Cannot read {path}. {AEON_HINT}") from None
    try:
        data, y = load_from_ts_file(str(path))
    except Exception as error:  # noqa: BLE001 - aeon raises OSError/ValueError/IndexError …
        raise SelfsupError(_ts_error(path, error)) from None
    if isinstance(data, list):
        x = pad_series([np.asarray(case, dtype=np.float64).T for case in data]) if data else None
    else:
        data = np.asarray(data, dtype=np.float64)
        x = data.transpose(0, 2, 1) if data.ndim == 3 and len(data) else None
    if x is None:
        raise SelfsupError(
            f"{path} holds no series. A .ts file has '@' header lines, then '@data', then one "
            "series per line (channels separated by ':', values by ',', the label last)."
        )
    y = np.asarray(y)
    labels = label_values(y.tolist()) if len(y) else None
    return RawSeries(x, labels, str(path), lambda i: f"series {i} (the {i + 1}. case after @data)")


def _ts_error(path: Path, error: Exception) -> str:
    """aeon's message, plus the first line holding a value that is not a number when found."""
    text = f"Could not read {path} as a UCR/UEA .ts file: {error}"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return text
    in_data, labeled = False, True
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith(("#", "%")):
            continue
        if line.lower().startswith("@classlabel") or line.lower().startswith("@targetlabel"):
            labeled = "true" in line.lower()
        if line.lower().startswith("@data"):
            in_data = True
            continue
        if not in_data:
            continue
        dimensions = line.split(":")
        if labeled:
            dimensions = dimensions[:-1]
        for token in ",".join(dimensions).split(","):
            if token.strip() not in ("?", "") and not _is_number(token):
                return f"{path} line {number}: {token.strip()!r} is not a number ({error})."
    return text

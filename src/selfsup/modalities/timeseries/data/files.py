"""Time-series file parsers: ``.npy``/``.npz`` and UCR/UEA ``.ts`` archives (CSV: :mod:`.ts_csv`).

Each parser returns a :class:`RawSeries`: float64 ``x [N, T, C]`` padded at the end with NaN
to the longest series, the raw labels (or None) and, per series, a phrase naming it in error
messages. Validation that every source shares (holes, infinite values, label encoding, train
vs. test channels) happens once in :mod:`selfsup.modalities.timeseries.data.readers`.

``.ts`` goes through aeon's reader, imported only when a ``.ts`` file is read.
Multi-device recordings stored one device per row (a ``group`` naming the device) are folded
into ``[N, D, T, C]`` by :func:`fold_devices`, whichever file they come from.
"""

from __future__ import annotations

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


# --------------------------------------------------------------------------- devices as rows


def fold_devices(
    raw: RawSeries, groups: Sequence[str], windows: Sequence[str] | None = None,
    window_phrase: Callable[[str], str] | None = None, devices: Sequence[str] | None = None,
) -> RawSeries:
    """Series stored one device per row -> multi-device ``[N, D, T, C]``.

    Row ``k`` of ``raw.x [M, T, C]`` was recorded by device ``groups[k]``. ``windows`` (one id per
    row, e.g. a long-form CSV's ``series_id``) says which rows were recorded together; without
    it the ``i``-th row of every device is window ``i`` (arrays with a ``group`` key), so every
    device needs as many rows. Windows keep the order of their first row, devices too unless
    ``devices`` gives their order (a test split takes the train split's). Every window needs
    exactly one row of every device, and one label for all of them.

    Returns a :class:`RawSeries` with ``devices`` set, labels ``[N]`` and ``describe`` naming a
    window (``window_phrase(id)``, or the rows it came from).
    """
    groups = [str(g).strip() for g in groups]
    if len(groups) != len(raw.x):
        raise SelfsupError(
            f"{raw.where}: the device group has {len(groups)} entries but there are "
            f"{len(raw.x)} series; give one device name per series."
        )
    found_devices = list(dict.fromkeys(groups))
    if devices is not None and sorted(devices) != sorted(found_devices):
        raise SelfsupError(
            f"{raw.where} has the devices {', '.join(found_devices)}; the training split has "
            f"{', '.join(devices)}. Train and test need the same devices."
        )
    devices = list(devices) if devices is not None else found_devices
    rows_of = {d: [k for k, g in enumerate(groups) if g == d] for d in devices}
    if windows is None:
        counts = {d: len(rows) for d, rows in rows_of.items()}
        if len(set(counts.values())) > 1:
            listed = ", ".join(f"{d!r}: {n}" for d, n in counts.items())
            raise SelfsupError(
                f"{raw.where}: the devices have different numbers of series ({listed}); row i of "
                "every device is the same time window, so every device needs as many."
            )
        table = [[rows_of[d][i] for d in devices] for i in range(counts[devices[0]])]
        names = [", ".join(raw.describe(k) for k in rows) for rows in table]
    else:
        windows = [str(w) for w in windows]
        cell: dict[str, dict[str, int]] = {}
        for k, (window, device) in enumerate(zip(windows, groups)):
            cell.setdefault(window, {})[device] = k
        phrase = window_phrase or (lambda w: f"window {w!r}")
        table, names = [], []
        for window, found in cell.items():
            missing = [d for d in devices if d not in found]
            if missing:
                raise SelfsupError(
                    f"{raw.where}: {phrase(window)} has no series for device "
                    f"{', '.join(repr(d) for d in missing)} (devices: {', '.join(devices)}); "
                    "every window needs every device."
                )
            table.append([found[d] for d in devices])
            names.append(phrase(window))
    labels = None
    if raw.labels is not None:
        labels = []
        for rows, name in zip(table, names):
            found = list(dict.fromkeys(str(v) for v in np.asarray(raw.labels)[rows].tolist()))
            if len(found) > 1:
                raise SelfsupError(
                    f"{raw.where}: the devices of {name} have different labels "
                    f"({', '.join(repr(v) for v in found)}); a window has one label."
                )
            labels.append(raw.labels[rows[0]])
        labels = np.asarray(labels)
    x = raw.x[np.asarray(table, dtype=np.int64)]  # [N, D, T, C]
    return RawSeries(x, labels, raw.where, lambda i: names[i], raw.channels, devices, raw.notes)


# --------------------------------------------------------------------------- arrays (.npy, .npz)


def read_npz(path: Path) -> tuple[RawSeries, RawSeries | None, list[str]]:
    keys_read = ("x", "y", "x_test", "y_test", "devices", "group", "group_test")
    with np_load(path) as archive:
        keys = list(archive.files)
        if "x" not in keys:
            raise SelfsupError(
                f"{path} has no key 'x' (keys found: {', '.join(keys) or 'none'}). Save the "
                "series as x [N, T, C] (and optionally y, x_test, y_test, devices, group): "
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
    if "group" in arrays or "group_test" in arrays:
        return (*_fold_npz(path, arrays, train, test), notes)
    if "devices" in arrays:
        devices = np.asarray(arrays["devices"]).reshape(-1)
        if arrays["x"].ndim != 4 or len(devices) != arrays["x"].shape[1]:
            raise SelfsupError(
                f"{path} key 'devices' names {len(devices)} devices but x has shape "
                f"{list(arrays['x'].shape)}; multi-device series are [N, D, T, C] with D names."
            )
        train.devices = [str(d) for d in devices.tolist()]
    return train, test, notes


def _fold_npz(
    path: Path, arrays: dict[str, np.ndarray], train: RawSeries, test: RawSeries | None
) -> tuple[RawSeries, RawSeries | None]:
    """``group`` (and ``group_test``): the device of each row of ``x`` (``x_test``)."""
    if "devices" in arrays:
        raise SelfsupError(
            f"{path} has both 'devices' (for x [N, D, T, C]) and 'group' (one device per row of "
            "x [N, T, C]); keep the one that matches how x is stored."
        )
    if "group" not in arrays or (test is not None) != ("group_test" in arrays):
        raise SelfsupError(
            f"{path}: give 'group' for x and 'group_test' for x_test (the device of each row), "
            "or neither."
        )
    folded: list[RawSeries] = []
    for raw, key in ((train, "group"), (test, "group_test")):
        if raw is None:
            continue
        if raw.x.ndim not in (2, 3):
            raise SelfsupError(
                f"{raw.where} has shape {list(raw.x.shape)}; with a {key!r} key every row is one "
                "device's series, [N, T, C] or [N, T]."
            )
        if raw.x.ndim == 2:
            raw.x = raw.x[..., None]
        order = folded[0].devices if folded else None
        folded.append(fold_devices(raw, np.asarray(arrays[key]).reshape(-1).tolist(), devices=order))
    return folded[0], folded[1] if test is not None else None


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


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


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
            if token.strip() not in ("?", "") and not is_number(token):
                return f"{path} line {number}: {token.strip()!r} is not a number ({error})."
    return text

"""Time-series data sources: ``.npy``/``.npz`` arrays, CSV (long/wide), UCR/UEA ``.ts``, built-ins.

Every source returns a :class:`~selfsup.data.base.DataBundle` of modality ``"timeseries"``
holding float32 ``x [N, T, C]`` (time, then channels) or, for multi-device recordings,
``x [N, D, T, C]`` with ``bundle.meta["devices"]`` naming the D devices.

Decisions (what a user can rely on):

- **Variable lengths.** Shorter series are padded at the END with NaN to the longest one
  (TS2Vec's convention, Yue et al., AAAI 2022); nothing is truncated, and a note says how
  many series were padded to what length. :func:`series_lengths` recovers the lengths.
  A NaN followed by an observed value of the same series (a hole) is an error: fill or
  interpolate gaps yourself. Infinite values are an error too.
- **Arrays.** ``.npy``: ``[N, T, C]``, ``[N, T]`` (one channel) or ``[N, D, T, C]``
  (multi-device, devices ``device0``…). ``.npz``: key ``x`` as above, optional ``y``,
  ``x_test``/``y_test`` (the image convention) and ``devices`` (D names). Labels of any
  dtype map to ``0..K-1`` in sorted order, ``class_names`` keeping the values.
- **Devices as rows.** Multi-device recordings may also be stored one device per row: an
  ``.npz`` with ``x [M, T, C]`` and ``group [M]`` (the device of each row; ``group_test`` for
  ``x_test``), where row ``i`` of every device is the same time window; or a long-form CSV with a
  ``group`` column (``group_column``), where rows of one ``series_id`` are one window. Both
  become ``x [N, D, T, C]`` with ``meta["devices"]`` in order of first appearance; a window
  without every device, or whose devices disagree on the label, is an error naming it.
- **CSV.** A header row is required. A file with a ``series_id`` column (``id_column``) is
  LONG form: ``series_id, time, <channel columns...>`` and optionally ``label``
  (``label_column``, constant per series); rows are sorted by ``time`` (numbers or ISO
  date-times; it only orders rows, gaps are not filled) within each series, and series
  keep the order of their first row. Otherwise the file is WIDE form: one univariate series
  per row, the ``label`` column (if present) and one column per time step; empty trailing
  cells make a shorter series. Every row must have as many fields as the header (else the
  file is "ragged"). Empty cells and ``nan``/``NA``/``null``/``?`` are missing values.
- **UCR/UEA ``.ts``** files are read by aeon (``pip install selfsup[timeseries]``). A path
  ending in ``_TRAIN.ts`` (or ``_TRAIN.csv``) takes the ``_TEST`` file beside it as the
  test split; a folder holding one ``<Name>_TRAIN`` file works the same. Text labels that
  are all numbers are sorted as numbers (class "2" before "10").
- **Splits.** An explicit test split (``x_test``, a ``_TEST`` file) is used as given; train
  and test must have the same channels (and devices); their lengths may differ (both are
  padded to the longer). Otherwise labeled data gets a seeded stratified split of
  ``test_fraction``; unlabeled data gets none.
- **Normalisation** ``normalize="none"`` (default) keeps values as stored: the UCR archive
  is already z-normalised per series for most sets and TS2Vec does not renormalise them.
  ``"zscore"`` z-normalises each series and channel over its observed timestamps.
- **Built-ins** ``ucr:<Name>`` / ``uea:<Name>``: the classification sets shipped inside
  aeon, with their official train/test splits (``seed``/``test_fraction`` do not change them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from selfsup.data.base import DataBundle, np_load
from selfsup.data.splits import check_fraction, encode_labels, split_bundle
from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.data.csv_series import read_csv_series
from selfsup.modalities.timeseries.data.files import (
    AEON_HINT,
    PAIRED_SUFFIXES,
    RawSeries,
    aeon_dir,
    read_npz,
    read_ts_file,
    row_phrase,
    test_file_for,
    train_file_in,
)
from selfsup.modalities.timeseries.data.source import SeriesSource, series_source
from selfsup.registry import DATASETS

__all__ = ["BUILTIN_SETS", "read_timeseries", "series_lengths", "zscore_series"]

NORMALIZATIONS = ("none", "zscore")


def read_timeseries(
    path: str | Path,
    seed: int = 0,
    test_fraction: float = 0.2,
    label_column: str | None = "label",
    id_column: str = "series_id",
    time_column: str = "time",
    group_column: str | None = "group",
    normalize: str = "none",
) -> SeriesSource:
    """Read time series from ``.npy``, ``.npz``, ``.csv``, ``.ts`` or a folder (see module doc)."""
    path = Path(path)
    check_fraction(test_fraction)
    _check_normalize(normalize)
    if not path.exists():
        raise SelfsupError(f"{path} does not exist.")
    if path.is_dir():
        path = train_file_in(path)
    suffix = path.suffix.lower()
    name, notes = path.stem, []
    if suffix == ".npy":
        train, test = RawSeries(np_load(path), None, path.name, row_phrase("")), None
    elif suffix == ".npz":
        train, test, notes = read_npz(path)
    elif suffix in PAIRED_SUFFIXES:
        def read(file: Path) -> RawSeries:
            if suffix == ".ts":
                return read_ts_file(file)
            return read_csv_series(file, label_column, id_column, time_column, group_column)

        train, test = read(path), None
        test_path = test_file_for(path)
        if test_path is not None:
            name = path.stem[: -len("_TRAIN")]
            test = read(test_path)
        elif path.stem.upper().endswith("_TRAIN"):
            notes.append(
                f"No {path.stem[:-6]}_TEST{path.suffix} next to {path.name}; labeled series get "
                "a seeded stratified test split instead."
            )
    else:
        raise SelfsupError(
            f"Cannot read {path} as time series: the timeseries modality reads .npy "
            "([N, T, C]), .npz (keys x, y, x_test, y_test), .csv (long or wide form), UCR/UEA "
            ".ts files, or a folder holding <Name>_TRAIN.ts / <Name>_TEST.ts."
        )
    return series_source(_assemble(name, train, test, notes, seed, test_fraction, normalize))


# --------------------------------------------------------------------------- shared checks


def series_lengths(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Observed length of each series: 1 + the last timestamp with any observed channel.

    ``x [..., T, C]`` -> int64 ``[...]`` (``[N]`` for ``[N, T, C]``, ``[N, D]`` for devices).
    """
    observed = ~torch.isnan(torch.as_tensor(x)).all(dim=-1)  # [..., T]
    t = observed.shape[-1]
    last = t - 1 - torch.flip(observed.to(torch.int8), dims=[-1]).argmax(dim=-1)
    return torch.where(observed.any(dim=-1), last + 1, torch.zeros_like(last))


def zscore_series(x: torch.Tensor) -> torch.Tensor:
    """Per-series, per-channel z-normalisation over observed (non-NaN) timestamps.

    ``x [..., T, C]``: ``(x - mean_t x) / std_t x`` with the population std (ddof 0, as the
    UCR archive's own normalisation); a constant channel is only centred; NaN stays NaN.
    """
    x64 = x.double()
    observed = ~torch.isnan(x64)
    count = observed.sum(dim=-2, keepdim=True).clamp_min(1)
    mean = torch.where(observed, x64, 0.0).sum(dim=-2, keepdim=True) / count
    centred = torch.where(observed, x64 - mean, 0.0)
    std = (centred.square().sum(dim=-2, keepdim=True) / count).sqrt()
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return ((x64 - mean) / std).to(x.dtype)


def _check_normalize(normalize: str) -> None:
    if normalize not in NORMALIZATIONS:
        raise SelfsupError(
            f"Option normalize must be one of {', '.join(NORMALIZATIONS)}; got {normalize!r}."
        )


def _check_values(raw: RawSeries) -> np.ndarray:
    """Shape/dtype checks, then holes and infinities; returns float32 ``[N, (D,) T, C]``."""
    x = raw.x
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise SelfsupError(
            f"{raw.where} has dtype {x.dtype}; time series must be numeric. Convert it, e.g. "
            "x.astype(np.float32)."
        )
    if np.iscomplexobj(x):
        raise SelfsupError(f"{raw.where} holds complex numbers; store real values.")
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim not in (3, 4):
        raise SelfsupError(
            f"{raw.where} has shape {list(raw.x.shape)}; time series must be [N, T, C], "
            "[N, T] (one channel) or [N, D, T, C] (D devices)."
        )
    if 0 in x.shape:
        raise SelfsupError(f"{raw.where} holds no series (shape {list(x.shape)}).")
    x = x.astype(np.float64, copy=False)
    flat = x.reshape(-1, *x.shape[-2:])  # [N * D, T, C]
    devices = 1 if x.ndim == 3 else x.shape[1]

    def series(k: int) -> str:
        name = raw.describe(k // devices)
        return name if devices == 1 else f"{name}, device {k % devices}"

    infinite = np.isinf(flat).any(axis=(1, 2))
    if infinite.any():
        k = int(np.argmax(infinite))
        raise SelfsupError(f"{raw.where}: {series(k)} holds infinite values; fix or drop it.")
    lengths = series_lengths(flat).numpy()
    if (lengths == 0).any():
        k = int(np.argmax(lengths == 0))
        raise SelfsupError(f"{raw.where}: {series(k)} has no observed values (all NaN).")
    steps = np.arange(flat.shape[1])[None, :, None]
    holes = np.isnan(flat) & (steps < lengths[:, None, None])
    if holes.any():
        k, t, c = (int(i[0]) for i in np.nonzero(holes))
        raise SelfsupError(
            f"{raw.where}: {series(k)} has NaN inside the series (time index {t}, channel {c}; "
            f"observed values follow up to index {lengths[k] - 1}). NaN may only pad the end of "
            "a shorter series; fill or interpolate the gap, or drop the series."
        )
    return x.astype(np.float32)


def _padding_note(x: np.ndarray, where: str) -> list[str]:
    lengths = series_lengths(x).reshape(-1)
    short = int((lengths < x.shape[-2]).sum())
    if not short:
        return []
    note = (
        f"{short} of {lengths.numel()} series in {where} are shorter than the longest "
        f"({int(lengths.min())}-{int(lengths.max())} timestamps); they are padded with NaN at "
        f"the end to length {x.shape[-2]}."
    )
    return [note]


def _pad_time(x: np.ndarray, length: int) -> np.ndarray:
    if x.shape[-2] == length:
        return x
    pad = [(0, 0)] * x.ndim
    pad[-2] = (0, length - x.shape[-2])
    return np.pad(x, pad, constant_values=np.nan)


# --------------------------------------------------------------------------- assembling


def _assemble(
    name: str, train: RawSeries, test: RawSeries | None, notes: list[str],
    seed: int, test_fraction: float, normalize: str, meta: dict[str, Any] | None = None,
) -> DataBundle:
    """Validate the splits, encode labels, split if needed and build the bundle."""
    meta = dict(meta or {})
    x = _check_values(train)
    x_test = _check_values(test) if test is not None else None
    if test is not None:
        if x.ndim != x_test.ndim or x.shape[1:-2] != x_test.shape[1:-2] or (
            x.shape[-1] != x_test.shape[-1]
        ):
            what = "[D, T, C] (devices, time, channels)" if x.ndim == 4 else "[T, C]"
            raise SelfsupError(
                f"The channels differ between {train.where} (series shaped "
                f"{list(x.shape[1:])}) and {test.where} ({list(x_test.shape[1:])}), as "
                f"{what}; train and test need the same channels."
            )
        if train.devices and test.devices and train.devices != test.devices:
            if sorted(train.devices) != sorted(test.devices):
                raise SelfsupError(
                    f"The devices differ between {train.where} ({', '.join(train.devices)}) and "
                    f"{test.where} ({', '.join(test.devices)}); train and test need the same ones."
                )
            x_test = x_test[:, [test.devices.index(d) for d in train.devices]]
        if train.channels and test.channels and train.channels != test.channels:
            raise SelfsupError(
                f"The channels differ between {train.where} ({', '.join(train.channels)}) and "
                f"{test.where} ({', '.join(test.channels)}); train and test need the same ones."
            )
        if (train.labels is None) != (test.labels is None):
            labeled, unlabeled = (train, test) if train.labels is not None else (test, train)
            raise SelfsupError(
                f"{labeled.where} has labels but {unlabeled.where} has none; give labels for "
                "both splits or neither."
            )
    notes = notes + train.notes + (test.notes if test is not None else [])
    notes += _padding_note(x, Path(train.where).name)
    if x_test is not None:
        notes += _padding_note(x_test, Path(test.where).name)
        length = max(x.shape[-2], x_test.shape[-2])
        if x.shape[-2] != x_test.shape[-2]:
            notes.append(
                f"Train series have {x.shape[-2]} timestamps and test series "
                f"{x_test.shape[-2]}; both are NaN-padded at the end to {length}."
            )
        x, x_test = _pad_time(x, length), _pad_time(x_test, length)
    if x.ndim == 4:
        meta.setdefault("devices", train.devices or [f"device{d}" for d in range(x.shape[1])])
    if train.channels:
        meta.setdefault("channels", list(train.channels))
    x_t = torch.from_numpy(np.ascontiguousarray(x))
    x_test_t = torch.from_numpy(np.ascontiguousarray(x_test)) if x_test is not None else None
    if normalize == "zscore":
        x_t = zscore_series(x_t)
        x_test_t = zscore_series(x_test_t) if x_test_t is not None else None
    if train.labels is None:
        bundle = DataBundle(name, "timeseries", x_t, None, x_test_t, None, None, notes)
    else:
        named = [(train.where, train.labels, len(x))]
        if test is not None:
            named.append((test.where, test.labels, len(x_test)))
        for where, labels, n in named:
            count = len(labels) if np.ndim(labels) else 0
            if count != n:
                raise SelfsupError(
                    f"{where} has {count} labels but {n} series; they must match one to one."
                )
        labels, class_names = encode_labels(
            [("y" if i == 0 else "y_test", lab, n) for i, (_, lab, n) in enumerate(named)], name
        )
        if test is not None:
            bundle = DataBundle(
                name, "timeseries", x_t, labels[0], x_test_t, labels[1], class_names, notes
            )
        else:
            bundle = split_bundle(
                name, "timeseries", x_t, labels[0], class_names, seed, test_fraction, notes
            )
    bundle.meta.update(meta)
    return bundle


# --------------------------------------------------------------------------- built-ins

# name -> (folder inside aeon/datasets/data, total series, description)
BUILTIN_SETS: dict[str, tuple[str, int, str]] = {
    "ucr:ACSF1": ("ACSF1", 200, "UCR ACSF1: appliance power, 10 classes, T=1460, 100/100"),
    "ucr:ArrowHead": ("ArrowHead", 211, "UCR ArrowHead: outline shapes, 3 classes, T=251, 36/175"),
    "ucr:GunPoint": ("GunPoint", 200, "UCR GunPoint: hand motion, 2 classes, T=150, 50/150"),
    "ucr:ItalyPowerDemand": (
        "ItalyPowerDemand", 1096, "UCR ItalyPowerDemand: daily load, 2 classes, T=24, 67/1029"
    ),
    "ucr:OSULeaf": ("OSULeaf", 442, "UCR OSULeaf: leaf outlines, 6 classes, T=427, 200/242"),
    "ucr:PickupGestureWiimoteZ": (
        "PickupGestureWiimoteZ", 100,
        "UCR PickupGestureWiimoteZ: accelerometer, 10 classes, T=29-361 (NaN-padded), 50/50",
    ),
    "ucr:UnitTest": (
        "UnitTest", 42, "aeon's UnitTest (a cut-down ChinaTown), 2 classes, T=24, 20/22"
    ),
    "uea:BasicMotions": (
        "BasicMotions", 80, "UEA BasicMotions: watch IMU, 6 channels, 4 classes, T=100, 40/40"
    ),
    "uea:JapaneseVowels": (
        "JapaneseVowels", 640,
        "UEA JapaneseVowels: 12 LPC channels, 9 speakers, T=7-29 (NaN-padded), 270/370",
    ),
}


def load_builtin(name: str, normalize: str = "none") -> SeriesSource:
    """Load a ``ucr:``/``uea:`` set from aeon's shipped files with its official split."""
    if name not in BUILTIN_SETS:
        raise SelfsupError(
            f"Unknown UCR/UEA data set {name!r}. Built-in ones (shipped inside aeon): "
            f"{', '.join(BUILTIN_SETS)}. For other archive sets, download the .ts files and "
            "pass the <Name>_TRAIN.ts path with --modality timeseries."
        )
    _check_normalize(normalize)
    root = aeon_dir()
    if root is None:
        raise SelfsupError(f"Cannot load {name}. {AEON_HINT}")
    folder = BUILTIN_SETS[name][0]
    train_file = root / "datasets" / "data" / folder / f"{folder}_TRAIN.ts"
    test_file = train_file.with_name(f"{folder}_TEST.ts")
    if not (train_file.exists() and test_file.exists()):
        raise SelfsupError(
            f"Cannot load {name}: {train_file} or {test_file} is missing from the installed "
            "aeon. Reinstall aeon (pip install --force-reinstall aeon)."
        )
    train, test = read_ts_file(train_file), read_ts_file(test_file)
    return series_source(_assemble(name, train, test, [], 0, 0.0, normalize))


def _register_builtin(name: str, total: int, description: str) -> None:
    def load(seed: int = 0, test_fraction: float = 0.2, normalize: str = "none") -> SeriesSource:
        return load_builtin(name, normalize)

    load.__doc__ = (
        f"{description}. Official train/test split from aeon's files; ``seed`` and "
        "``test_fraction`` are accepted for a uniform signature and do not change it."
    )
    DATASETS.register(name, description=description, modality="timeseries", n=total)(load)


for _name, (_folder, _total, _description) in BUILTIN_SETS.items():
    _register_builtin(_name, _total, _description)

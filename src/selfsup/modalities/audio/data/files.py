"""Reading audio: a folder of ``.wav``/``.flac``/``.ogg`` files (read with ``soundfile``) or an
``.npz`` of waveforms, into NaN-padded clips at one sample rate.

Decisions (what a user can rely on):

- **Folder.** Every ``.wav``/``.flac``/``.ogg`` below the folder, in sorted path order. When every
  file sits in a sub-folder, the first sub-folder is its label (``dog/001.wav`` is a ``dog``);
  files directly in the folder make the data unlabeled.
- **One rate, one channel.** Clips are resampled to ``sample_rate`` (16 kHz by default) with
  scipy's polyphase resampler (``resample_poly``, which low-pass filters first) and multi-channel
  clips are downmixed to their channel mean; a note says which rates and channel counts were found.
- **Bad files.** A file soundfile cannot read, or one that holds no samples, is skipped and named
  in a note; if no file is readable that is an error naming the first one and why.
- **Silence.** Clips whose samples are all zero are kept (they are legitimate inputs) and named in
  a note: they carry nothing an encoder can learn from.
- **Lengths** are kept: shorter clips are NaN-padded at the end (``frontend.lengths``).
- **``.npz``.** ``x`` ``[N, T]`` waveforms (NaN-padded, or zero-padded with ``lengths [N]``),
  optional ``y``, ``x_test``/``y_test``/``lengths_test``, and ``sample_rate`` (a scalar; without it
  the clips are taken to be at ``sample_rate`` already, and a note says so).
- **Splits.** An explicit test split is used as given; otherwise labeled data gets a seeded
  stratified split of ``test_fraction``.
"""

from __future__ import annotations

from collections import Counter
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import torch

from selfsup.data.base import DataBundle, DataSource, np_load
from selfsup.data.segments import SegmentLabels
from selfsup.data.splits import check_fraction, encode_labels, split_bundle
from selfsup.errors import SelfsupError
from selfsup.modalities.audio.data.source import AudioSpec, audio_source
from selfsup.modality import require

__all__ = ["AUDIO_SUFFIXES", "assemble_clips", "read_audio", "read_folder", "resample"]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
DEFAULT_SAMPLE_RATE = 16_000
#: how many names a note lists before "and N more"
LISTED = 5


def resample(wave: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``wave [T]`` from ``from_rate`` to ``to_rate`` Hz (scipy ``resample_poly``)."""
    if from_rate == to_rate:
        return wave
    from scipy.signal import resample_poly

    common = gcd(int(from_rate), int(to_rate))
    return resample_poly(wave, to_rate // common, from_rate // common).astype(np.float32)


def listed(names: list[str]) -> str:
    more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
    return ", ".join(names[:LISTED]) + more


def read_audio(path: str | Path, seed: int = 0, test_fraction: float = 0.2,
               sample_rate: int = DEFAULT_SAMPLE_RATE) -> DataSource:
    """Read a folder of audio files or an ``.npz`` of waveforms (see the module doc)."""
    path = Path(path)
    check_fraction(test_fraction)
    sample_rate = check_sample_rate(sample_rate)
    if not path.exists():
        raise SelfsupError(f"{path} does not exist.")
    if path.is_dir():
        clips, labels, names, notes = read_folder(path, sample_rate)
        return assemble_clips(path.name, clips, labels, names, notes, seed, test_fraction, sample_rate)
    if path.suffix.lower() == ".npz":
        return _read_npz(path, seed, test_fraction, sample_rate)
    raise SelfsupError(
        f"Cannot read {path} as audio: the audio modality reads a folder of "
        f"{'/'.join(AUDIO_SUFFIXES)} files (class sub-folders = labels) or an .npz of waveforms "
        "(keys x, y, sample_rate, lengths)."
    )


def check_sample_rate(sample_rate: Any) -> int:
    """``sample_rate`` as an int number of Hz, or one SelfsupError."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 1000:
        raise SelfsupError(f"Option sample_rate must be an integer number of Hz >= 1000; got {sample_rate!r}.")
    return int(sample_rate)


def read_folder(root: Path, sample_rate: int) -> tuple[list[np.ndarray], list[str] | None, list[str], list[str]]:
    """``(clips, labels or None, file names relative to root, notes)`` of the audio files below
    ``root`` (see the module doc)."""
    soundfile = require("soundfile", "audio", "Reading audio files")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise SelfsupError(f"{root} holds no {'/'.join(AUDIO_SUFFIXES)} files.")
    clips, names, skipped, rates, channels = [], [], [], Counter(), Counter()
    first_error = ""
    for file in files:
        name = str(file.relative_to(root))
        try:
            wave, rate = soundfile.read(str(file), dtype="float32", always_2d=True)
        except Exception as error:  # noqa: BLE001 - any failure means "not a readable audio file"
            skipped.append(name)
            first_error = first_error or f"{name}: {error}"
            continue
        if wave.shape[0] == 0:
            skipped.append(name)
            first_error = first_error or f"{name}: no samples"
            continue
        rates[rate] += 1
        channels[wave.shape[1]] += 1
        clips.append(resample(wave.mean(axis=1), rate, sample_rate))
        names.append(name)
    if not clips:
        raise SelfsupError(f"No file in {root} could be read as audio ({first_error}).")
    notes = []
    if skipped:
        notes.append(f"{len(skipped)} of {len(files)} files in {root} could not be read and are "
                     f"skipped: {listed(skipped)} ({first_error}).")
    if set(rates) != {sample_rate}:
        found = ", ".join(f"{r} Hz ({n} files)" for r, n in sorted(rates.items()))
        notes.append(f"The clips in {root} are at {found}; all are resampled to {sample_rate} Hz.")
    if set(channels) != {1}:
        found = ", ".join(f"{c} channel{'s' * (c > 1)} ({n} files)" for c, n in sorted(channels.items()))
        notes.append(f"The clips in {root} have {found}; all are downmixed to mono (channel mean).")
    in_folders = all(len(Path(n).parts) > 1 for n in names)
    labels = [Path(n).parts[0] for n in names] if in_folders else None
    return clips, labels, names, notes


def _read_npz(path: Path, seed: int, test_fraction: float, sample_rate: int) -> DataSource:
    archive = np_load(path)
    if "x" not in archive.files:
        raise SelfsupError(f"{path} has no key 'x' (keys: {', '.join(archive.files)}); store the "
                           "waveforms [N, T] under x.")
    notes = []
    rate = sample_rate
    if "sample_rate" in archive.files:
        rate = int(np.asarray(archive["sample_rate"]).reshape(-1)[0])
    else:
        notes.append(f"{path.name} has no sample_rate key; its clips are taken to be at {sample_rate} Hz.")

    def clips_of(key: str, lengths_key: str) -> list[np.ndarray]:
        x = np.asarray(archive[key])
        if x.ndim != 2 or not np.issubdtype(x.dtype, np.number) or 0 in x.shape:
            raise SelfsupError(f"{path}: {key} has shape {list(x.shape)} and dtype {x.dtype}; audio "
                               "waveforms must be numeric [N, T] (one mono clip per row).")
        if lengths_key in archive.files:
            n = np.asarray(archive[lengths_key]).astype(np.int64)
            if n.shape != (len(x),) or (n < 1).any() or (n > x.shape[1]).any():
                raise SelfsupError(f"{path}: {lengths_key} must hold {len(x)} lengths in 1..{x.shape[1]}.")
        else:
            n = torch_lengths(x)
        out = []
        for i, (row, k) in enumerate(zip(x, n)):
            wave = row[:k].astype(np.float32)
            if not np.isfinite(wave).all():
                raise SelfsupError(f"{path}: row {i} of {key} holds NaN or infinite values inside the clip.")
            out.append(resample(wave, rate, sample_rate))
        return out

    clips = clips_of("x", "lengths")
    labels = archive["y"] if "y" in archive.files else None
    if rate != sample_rate:
        notes.append(f"{path.name} is at {rate} Hz; its clips are resampled to {sample_rate} Hz.")
    if "x_test" not in archive.files:
        return assemble_clips(path.stem, clips, labels, None, notes, seed, test_fraction, sample_rate,
                              where=str(path))
    test_clips = clips_of("x_test", "lengths_test")
    test_labels = archive["y_test"] if "y_test" in archive.files else None
    if (labels is None) != (test_labels is None):
        raise SelfsupError(f"{path} has labels for only one of x and x_test; give both or neither.")
    return assemble_clips(path.stem, clips + test_clips, None if labels is None else
                          np.concatenate([np.asarray(labels), np.asarray(test_labels)]), None, notes,
                          seed, test_fraction, sample_rate, where=str(path), n_test=len(test_clips))


def torch_lengths(x: np.ndarray) -> np.ndarray:
    from selfsup.modalities.audio.frontend import lengths

    return lengths(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()


def pad_clips(clips: list[np.ndarray]) -> torch.Tensor:
    """Clips ``[T_i]`` (or ``[F, T_i]``) -> one NaN-padded float32 tensor."""
    length = max(c.shape[-1] for c in clips)
    out = np.full((len(clips), *clips[0].shape[:-1], length), np.nan, dtype=np.float32)
    for i, clip in enumerate(clips):
        out[i, ..., : clip.shape[-1]] = clip
    return torch.from_numpy(out)


def assemble_clips(
    name: str, clips: list[np.ndarray], labels: Any, names: list[str] | None, notes: list[str],
    seed: int, test_fraction: float, sample_rate: int, where: str | None = None, n_test: int = 0,
    features: str | None = None, segments: SegmentLabels | None = None,
) -> DataSource:
    """Pad, check and split clips (waveforms ``[T_i]`` or features ``[F, T_i]``) into a DataSource.

    ``n_test > 0``: the last ``n_test`` clips are the given test split. ``names`` label clips in
    messages (file names); None names them by row. ``segments``: labelled time segments of each
    clip, in the clips' order (steps at ``sample_rate``), kept as the source's ``segment_labels``.
    """
    where = where or name
    notes = list(notes)
    names = names or [f"row {i} of {where}" for i in range(len(clips))]
    silent = [n for n, c in zip(names, clips) if not np.any(c)]
    if silent:
        notes.append(f"{len(silent)} clips of {where} are silent (all samples 0): {listed(silent)}. "
                     "They are kept; they carry nothing to learn from.")
    sizes = [c.shape[-1] for c in clips]
    if min(sizes) != max(sizes):
        notes.append(f"Clips of {where} last {min(sizes)}-{max(sizes)} {'frames' if features else 'samples'}; "
                     "shorter ones are NaN-padded at the end (lengths are kept).")
    x = pad_clips(clips)
    spec = AudioSpec(sample_rate, x.shape[-1], x.shape[1] if features else None, features)
    y, class_names = None, None
    if labels is not None:
        labels = np.asarray(labels)
        (y,), class_names = encode_labels([("y", labels, len(clips))], where)
    if n_test:
        n = len(clips) - n_test
        bundle = DataBundle(name, "audio", x[:n], None if y is None else y[:n], x[n:],
                            None if y is None else y[n:], class_names, notes)
    else:
        bundle = split_bundle(name, "audio", x, y, class_names, seed, test_fraction, notes)
    order = bundle.source_index.tolist() if bundle.source_index is not None else range(len(names))
    bundle.meta["names"] = [names[i] for i in order]
    if segments is not None:
        bundle.meta["segment_labels"] = segments.take(list(order))
    return audio_source(bundle, spec)

"""``selfsup units fit`` and ``selfsup units encode`` as functions.

:func:`fit_units` runs a finished run's encoder over data, fits k-means on its frames (final
output or ``layer``), measures the units and saves the codebook. :func:`encode_units` turns data
into one unit sequence per sample with a codebook, or with a run whose encoder has its own
quantiser (TOTEM), and writes them to ``.npz``:

- ``values`` int64 ``[M]`` and ``offsets`` int64 ``[N + 1]``: sample ``i``'s units are
  ``values[offsets[i]:offsets[i + 1]]`` (no pickled object arrays, so the file loads with
  ``np.load`` as it is);
- with ``dedup``: runs of one unit merged, ``run_lengths [M]`` beside ``values``;
- ``k``, and ``y`` ``[N]`` when the data is labeled.

Samples follow the data's own order, as ``selfsup embed`` writes them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from selfsup.errors import SelfsupError
from selfsup.units.codebook import Codebook, fit_kmeans, load_codebook
from selfsup.units.features import Frames, check_frame_encoder, check_layer, collect_frames
from selfsup.units.metrics import (
    bag_of_units_accuracy,
    bitrate,
    dedup,
    purity_and_pnmi,
    unit_histograms,
    usage_and_perplexity,
)


@dataclass
class FitResult:
    """What :func:`fit_units` made: the codebook (its metrics in ``codebook.metrics``) and the
    ``.safetensors`` path it was saved to (the ``.json`` beside it)."""

    codebook: Codebook
    path: Path


def _run_frames(run_dir: Path, data: str | None, modality: str | None, layer: int | None,
                batch_size: int) -> tuple[str, Any, list[Frames]]:
    """The data's name (or path) as given, the data source, and the frames of each split (train,
    then test) of the run's encoder."""
    from selfsup.config import load_config
    from selfsup.finished import open_run_data

    if not (run_dir / "config.yaml").is_file():
        raise SelfsupError(f"{run_dir} is not a selfsup run folder (config.yaml is missing).")
    config = load_config(run_dir / "config.yaml")
    data = data or config.data.name
    encoder, source = open_run_data(run_dir, data, modality)
    check_frame_encoder(encoder, str(run_dir))
    check_layer(encoder, layer, str(run_dir))
    splits = [source.train] + ([source.test] if source.test is not None else [])
    frames = [collect_frames(encoder, [source.loader(split, batch_size)], source.finish, layer,
                             source.split_segment_labels(test=split is source.test)) for split in splits]
    return data, source, frames


def unit_metrics(codebook: Codebook, frames: list[Frames], frame_rate: float | None = None,
                 seed: int = 0) -> dict[str, Any]:
    """Usage, perplexity and bitrate of the units of every frame; purity and PNMI on the held-out
    split when there is one (else the training split); bag-of-units accuracy trained on the
    training split and scored on the held-out one."""
    codes = [codebook.assign(f.features) for f in frames]
    all_codes = np.concatenate(codes)
    offsets = _join_offsets([f.offsets for f in frames])
    usage, perplexity = usage_and_perplexity(all_codes, codebook.k)
    metrics: dict[str, Any] = {"frames": len(all_codes), "samples": len(offsets) - 1,
                               "usage": usage, "perplexity": perplexity,
                               **bitrate(all_codes, offsets, codebook.k, frame_rate)}
    scored = frames[-1]
    if scored.labels is not None:
        metrics.update(purity_and_pnmi(codes[-1], scored.labels))
        metrics["purity_labels"] = scored.labels_from
        metrics["purity_split"] = "test" if len(frames) > 1 else "train"
    labeled = [f.sample_labels is not None and len(f.sample_labels) == f.num_samples for f in frames]
    if len(frames) > 1 and all(labeled):
        histograms = unit_histograms(all_codes, offsets, codebook.k)
        y = np.concatenate([f.sample_labels for f in frames])
        train = np.arange(len(y)) < frames[0].num_samples
        accuracy = bag_of_units_accuracy(histograms, y, train, seed)
        if accuracy is not None:
            metrics["bag_of_units_acc"] = accuracy
    return metrics


def _join_offsets(parts: list[np.ndarray]) -> np.ndarray:
    joined, shift = [np.zeros(1, dtype=np.int64)], 0
    for offsets in parts:
        joined.append(offsets[1:] + shift)
        shift += int(offsets[-1])
    return np.concatenate(joined)


def fit_units(
    run_dir: str | Path,
    data: str | None = None,
    k: int = 100,
    layer: int | None = None,
    out: str | Path | None = None,
    modality: str | None = None,
    seed: int = 0,
    max_frames: int = 200_000,
    frame_rate: float | None = None,
    batch_size: int = 256,
    own: bool = False,
) -> FitResult:
    """Fit ``k`` units on the training split's frames of ``run_dir``'s encoder over ``data``
    (default: the run's own data), measure them, and save the codebook to ``out`` (default
    ``<run_dir>/units/k<k>[-layer<L>]``). With ``own``, nothing is fitted: the run's own codebook
    (TOTEM's) is measured and saved (default ``<run_dir>/units/own``)."""
    run_dir = Path(run_dir)
    if own and layer is not None:
        raise SelfsupError("--own measures the codebook the encoder quantises its final frames with; "
                           "it cannot be combined with --layer.")
    codebook = own_codebook(run_dir) if own else None
    data, source, frames = _run_frames(run_dir, data, modality, layer, batch_size)
    if codebook is None:
        centroids = fit_kmeans(frames[0].features, k, seed=seed, max_frames=max_frames)
        codebook = Codebook(centroids=centroids, run=str(run_dir.resolve()), layer=layer,
                            modality=source.modality, data=data)
    codebook.metrics = unit_metrics(codebook, frames, frame_rate, seed)
    if out is None:
        name = "own" if own else f"k{k}" + (f"-layer{layer}" if layer is not None else "")
        out = run_dir / "units" / name
    return FitResult(codebook, codebook.save(out))


def own_codebook(run_dir: str | Path) -> Codebook:
    """The codebook of a run whose encoder quantises its own frames (``encoder.quantizer``, a
    :class:`~selfsup.nn.quantizers.VectorQuantizer`: TOTEM)."""
    from selfsup.config import load_config
    from selfsup.finished import load

    run_dir = Path(run_dir)
    encoder = load(run_dir)
    quantizer = getattr(encoder, "quantizer", None)
    if quantizer is None or not hasattr(quantizer, "codebook"):
        raise SelfsupError(f"The encoder of {run_dir} has no codebook of its own; fit one with "
                           f"`selfsup units fit {run_dir} --k 100` and encode with the file it writes.")
    config = load_config(run_dir / "config.yaml")
    return Codebook(centroids=quantizer.codebook.detach().cpu().float().numpy(), run=str(run_dir.resolve()), layer=None,
                    modality=config.data.modality, data=config.data.name, kind="own")


def encode_units(
    codebook: str | Path | Codebook,
    data: str | None = None,
    out: str | Path | None = None,
    dedup_units: bool = False,
    run_dir: str | Path | None = None,
    modality: str | None = None,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Unit sequences of every sample of ``data`` (default: the codebook's data), written to
    ``out`` (``.npz``, see the module docstring) when given; returns a summary and the arrays.

    ``codebook``: a codebook (or its file), or a run folder whose encoder has its own quantiser.
    ``run_dir`` overrides the run the codebook names (a moved run folder)."""
    if not isinstance(codebook, Codebook):
        codebook = own_codebook(codebook) if Path(codebook).is_dir() else load_codebook(codebook)
    if out is not None and Path(out).suffix.lower() != ".npz":
        raise SelfsupError(f"Units are written as a NumPy .npz file; --out {out} does not end in .npz.")
    run = Path(run_dir or codebook.run)
    _, source, frames = _run_frames(run, data or codebook.data, modality or codebook.modality,
                                    codebook.layer, batch_size)
    width = frames[0].features.shape[1]
    if width != codebook.dim:
        where = f"layer {codebook.layer}" if codebook.layer is not None else "the final output"
        raise SelfsupError(f"The codebook has dimension {codebook.dim}, but {where} of the encoder of {run} "
                           f"gives frames of dimension {width}: it was fitted on another encoder. Fit units on "
                           f"this run with `selfsup units fit {run}`, or pass the codebook's own run with --run.")
    codes = np.concatenate([codebook.assign(f.features) for f in frames])
    offsets = _join_offsets([f.offsets for f in frames])
    sequences = [codes[a:b] for a, b in itertools.pairwise(offsets)]
    if source.source_index is not None:  # back to the file's row order
        sequences = [sequences[i] for i in torch.argsort(source.source_index).tolist()]
    arrays = _pack(sequences, dedup_units)
    arrays["k"] = np.array(codebook.k)
    labeled = [f.sample_labels for f in frames if f.sample_labels is not None]
    if len(labeled) == len(frames):
        y = np.concatenate(labeled)
        arrays["y"] = y[torch.argsort(source.source_index).numpy()] if source.source_index is not None else y
    if out is not None:
        _save_npz(Path(out), arrays)
    return {"samples": len(sequences), "units": len(arrays["values"]), "k": codebook.k,
            "frames": len(codes), "arrays": arrays}


def _pack(sequences: list[np.ndarray], merge: bool) -> dict[str, np.ndarray]:
    runs = [dedup(s) if merge else (s, None) for s in sequences]
    values = [r[0] for r in runs]
    arrays = {"values": np.concatenate(values).astype(np.int64) if values else np.zeros(0, np.int64),
              "offsets": np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int64)}
    if merge:
        arrays["run_lengths"] = np.concatenate([r[1] for r in runs]).astype(np.int64)
    return arrays


def _save_npz(out: Path, arrays: dict[str, np.ndarray]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial.npz")
    try:
        np.savez(partial, **arrays)
        partial.replace(out)  # whole or not at all
    finally:
        partial.unlink(missing_ok=True)

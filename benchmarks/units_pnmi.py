"""HuBERT's cluster-quality claim on ``spoken_words`` (Hsu et al. 2021, Section IV-C and Table
I/Fig. 2): k-means units of a trained HuBERT's transformer layer (the targets of iteration 2) have a
higher PNMI and phone purity than k-means units of MFCC frames with the same number of units.

    python benchmarks/units_pnmi.py --k 100        # trains both HuBERT runs first (about 15 min)
    python benchmarks/units_pnmi.py --k 100 --iteration1 runs/pnmi/hubert1 --iteration2 runs/pnmi/hubert2

The runs are ``selfsup pretrain --config configs/hubert_spoken_words.yaml`` (iteration 1, MFCC
targets) and the same with ``--set method.targets=ITERATION1:2`` (iteration 2: units of layer 2
of iteration 1). Every row is measured the same way: frames of the training clips, k-means with
``--k`` units (:func:`selfsup.units.fit_kmeans`, seed 0), then PNMI, phone purity and cluster
purity on the 288 held-out clips against the phone at each frame's centre (``spoken_words``'
phones from espeak-ng; 20 ms frames of the wav2vec conv stack, 44 labels, pauses included).

- **MFCC**: HuBERT iteration 1's target features, 13 MFCCs + deltas + delta-deltas at each frame
  (``MFCCTargets``), standardised with the training frames' mean and std as its codebook does.
- **own codebook**: the codebook a run actually trained towards, read from its checkpoint (fitted
  on the first batch's frames only, as ``methods/targets.py`` explains).
- **layer L**: ``selfsup units fit RUN --k K --layer L`` (raw layer outputs, as HuBERT clusters
  them); layer 2 of iteration 1 is what iteration 2 predicts.
- **random init, layer L**: the same encoder with its initial weights, for scale.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "configs" / "hubert_spoken_words.yaml"


class MFCCFrames(nn.Module):
    """HuBERT iteration 1's target features as frames: MFCC + deltas at the centre of each frame of
    ``encoder`` (its valid frames only), with the encoder's stride and receptive field."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        from selfsup.modalities.audio.methods.targets import MFCCTargets

        self.encoder, self.targets = encoder, MFCCTargets(encoder)
        self.stride, self.receptive_field = encoder.stride, encoder.receptive_field

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        z, _ = self.encoder.features(x)
        return self.targets(x, z.shape[1])[0]

    def frame_mask(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(x)[1]


def train(out: Path, name: str, extra: list[str]) -> Path:
    run = out / name
    if not (run / "metrics.json").is_file():
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        subprocess.run([sys.executable, "-m", "selfsup", "pretrain", "--config", str(RECIPE), "--out", str(run),
                        "--overwrite", "--no-progress", *extra], check=True, env=env)
    return run


def frames_of(encoder: nn.Module, source, layer: int | None = None):
    from selfsup.units.features import collect_frames

    return [collect_frames(encoder, [source.loader(split, 64)], source.finish, layer,
                           source.split_segment_labels(test=split is source.test))
            for split in (source.train, source.test)]


def measure(frames, k: int, standardise: bool = False, codebook=None) -> dict:
    """Metrics of k-means units (or of ``codebook``: ``(centroids, mean, std)`` of a run's own) on
    ``frames`` (train, test)."""
    from selfsup.units import Codebook, fit_kmeans, unit_metrics

    if codebook is not None:
        centroids, mean, std = codebook
    elif standardise:
        mean, std = frames[0].features.mean(0), frames[0].features.std(0).clip(1e-5)
    else:
        mean, std = 0.0, 1.0
    for f in frames:
        f.features = ((f.features - mean) / std).astype(np.float32)
    if codebook is None:
        centroids = fit_kmeans(frames[0].features, k, seed=0)
    book = Codebook(centroids=np.asarray(centroids, dtype=np.float32), run="", layer=None, modality="audio",
                    data="spoken_words")
    return unit_metrics(book, frames)


def own_codebook(run: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    return tuple(state[f"method.codebook.{key}"].float().numpy() for key in ("centroids", "mean", "std"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=100, help="units of every codebook (HuBERT: 100 on MFCC)")
    parser.add_argument("--iteration1", type=Path, help="a finished iteration-1 run (else trained)")
    parser.add_argument("--iteration2", type=Path, help="a finished iteration-2 run (else trained)")
    parser.add_argument("--out", type=Path, default=Path("runs/pnmi"))
    args = parser.parse_args()
    torch.manual_seed(0)
    from selfsup.finished import load, open_run_data
    from selfsup.registry import ENCODERS

    first = args.iteration1 or train(args.out, "hubert1", [])
    second = args.iteration2 or train(args.out, "hubert2", ["--set", f"method.targets={first}:2"])
    encoder1, source = open_run_data(first, "spoken_words")
    rows = [("MFCC + deltas (39), k-means", measure(frames_of(MFCCFrames(encoder1), source), args.k, standardise=True))]
    rows.append(("MFCC, iteration 1's own codebook", measure(frames_of(MFCCFrames(encoder1), source), args.k,
                                                            codebook=own_codebook(first))))
    for layer in (1, 2):
        rows.append((f"iteration 1, layer {layer}" + (" (iteration 2's targets)" if layer == 2 else ""),
                     measure(frames_of(encoder1, source, layer), args.k)))
    rows.append(("iteration 1 layer 2, iteration 2's own codebook",
                 measure(frames_of(encoder1, source, 2), args.k, codebook=own_codebook(second))))
    encoder2 = load(second)
    for layer in (1, 2):
        rows.append((f"iteration 2, layer {layer}", measure(frames_of(encoder2, source, layer), args.k)))
    saved = json.loads((first / "encoder.json").read_text())
    random_init = ENCODERS.build(saved["name"], encoder1.spec, **saved["kwargs"]).eval()  # seed 0's weights
    for layer in (1, 2):
        rows.append((f"random init, layer {layer}", measure(frames_of(random_init, source, layer), args.k)))
    labels = rows[0][1]["purity_labels"]
    print(f"\nK = {args.k}; k-means on the training clips' frames, measured on the held-out clips' frames; "
          f"labels: {labels}\n")
    print(f"| units (K = {args.k}) | PNMI | phone purity | cluster purity | perplexity |")
    print("|---|---:|---:|---:|---:|")
    for name, m in rows:
        print(f"| {name} | {m['pnmi']:.3f} | {m['phone_purity']:.3f} | {m['cluster_purity']:.3f} | {m['perplexity']:.1f} |")


if __name__ == "__main__":
    main()

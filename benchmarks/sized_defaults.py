"""A new user's first run on a small series set, with every default (issue 18's first done-when).

    python benchmarks/sized_defaults.py [--compare-epochs 3]

Writes 5,000 seeded synthetic control charts of length 40 (Alcock & Manolopoulos 1999's six
classes — normal, cyclic, increasing / decreasing trend, upward / downward shift — with random
onsets, magnitudes and unit noise; 4,000 to train, 1,000 to test) to ``series.npz`` in a temporary
folder, then runs

    selfsup pretrain --data series.npz --modality timeseries --method simclr

with nothing else given: the data-sized encoder and epochs. It prints the training seconds, the
epochs, and the linear-probe accuracy of the pretrained and the random-init encoder. With
``--compare-epochs N`` it also trains N epochs of the sized encoder and of TS2Vec's full
``dilated_cnn`` (named, so not sized) and prints their seconds per epoch and the ratio, measured
in the same process one after the other.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

import selfsup


def control_charts(n: int, length: int = 40, seed: int = 0, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``x [n, length, 1]`` float32 and ``y [n]``: the six synthetic control-chart classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 6, n)
    t = np.arange(length)
    x = rng.normal(0.0, noise, (n, length))
    for i, c in enumerate(y):
        if c == 1:  # cyclic
            x[i] += rng.uniform(0.5, 2.0) * np.sin(2 * np.pi * t / rng.uniform(6, 15) + rng.uniform(0, 2 * np.pi))
        elif c in (2, 3):  # increasing / decreasing trend
            x[i] += rng.uniform(0.02, 0.08) * (1 if c == 2 else -1) * t
        elif c in (4, 5):  # upward / downward shift
            start = rng.integers(length // 4, 3 * length // 4)
            x[i] += (t >= start) * rng.uniform(0.8, 2.0) * (1 if c == 4 else -1)
    return x.astype(np.float32)[..., None], y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare-epochs", type=int, default=0)
    args = parser.parse_args()
    print(f"# {platform.node()} {time.strftime('%Y-%m-%d %H:%M')}")
    with tempfile.TemporaryDirectory() as tmp:
        x, y = control_charts(5000)
        path = Path(tmp) / "series.npz"
        np.savez(path, x=x[:4000], y=y[:4000], x_test=x[4000:], y_test=y[4000:])
        started = time.time()
        result = selfsup.pretrain(method="simclr", data=str(path), modality="timeseries", out=f"{tmp}/default",
                                  progress=False)
        m = result.metrics
        config = selfsup.config.load_config(Path(tmp) / "default" / "config.yaml")
        print(f"default run: encoder {m['encoder']} {config.encoder.kwargs}, {config.train.epochs} epochs, "
              f"training {m['train_seconds']} s, whole run {time.time() - started:.1f} s")
        print(f"linear acc {m['pretrained']['linear_acc']:.3f} vs random-init {m['random_init']['linear_acc']:.3f} "
              f"(raw input {m['raw_input']['linear_acc']:.3f})")
        if args.compare_epochs:
            per_epoch = {}
            for name, extra in (("sized", {}), ("full", {"encoder": "dilated_cnn"})):
                run = selfsup.pretrain(method="simclr", data=str(path), modality="timeseries", out=f"{tmp}/{name}",
                                       epochs=args.compare_epochs, progress=False,
                                       overrides=["eval.every_n_epochs=0"], **extra)
                per_epoch[name] = run.metrics["seconds_per_epoch"]
            print(f"seconds per epoch: sized {per_epoch['sized']:.2f}, full dilated_cnn {per_epoch['full']:.2f} "
                  f"(full / sized = {per_epoch['full'] / per_epoch['sized']:.1f}x)")


if __name__ == "__main__":
    main()

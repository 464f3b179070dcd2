"""Pretrained vs random-init encoder on `digits`, for every method with a digits recipe.

    python benchmarks/digits_methods.py                    # all configs/*_digits.yaml
    python benchmarks/digits_methods.py simclr byol        # some of them
    python benchmarks/digits_methods.py --seeds 0 1 2      # mean ± std over seeds

Prints a Markdown table (kNN / linear accuracy and RankMe of the pretrained encoder, the
random-init encoder of the same architecture, and the raw pixels) for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

import selfsup

ROOT = Path(__file__).resolve().parents[1]


def run(method: str, seed: int, workdir: Path) -> dict:
    recipe = ROOT / "configs" / f"{method}_digits.yaml"
    result = selfsup.pretrain(
        str(recipe),
        out=str(workdir / f"{method}-{seed}"),
        seed=seed,
        progress=False,
        overrides=["eval.every_n_epochs=0"],
    )
    return {**result.metrics, "seconds": result.metrics["seconds"]}


def fmt(values: list[float], digits: int = 3) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("methods", nargs="*")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args()
    methods = args.methods or sorted(p.name[: -len("_digits.yaml")] for p in (ROOT / "configs").glob("*_digits.yaml"))

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, seeds {args.seeds}\n")
    header = ("| method | kNN pre | kNN rand | linear pre | linear rand | RankMe pre | RankMe rand | s/run |")
    print(header)
    print("|---" * 8 + "|")
    raw = None
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            runs = [run(method, seed, Path(tmp)) for seed in args.seeds]
            raw = runs[0].get("raw_input", raw)
            col = lambda part, key: [r[part][key] for r in runs]
            print(
                f"| {method} | {fmt(col('pretrained', 'knn_acc'))} | {fmt(col('random_init', 'knn_acc'))} "
                f"| {fmt(col('pretrained', 'linear_acc'))} | {fmt(col('random_init', 'linear_acc'))} "
                f"| {fmt(col('pretrained', 'rankme'), 1)} | {fmt(col('random_init', 'rankme'), 1)} "
                f"| {statistics.mean(r['seconds'] for r in runs):.0f} |",
                flush=True,
            )
    if raw:
        print(f"\nraw pixels (64-d): kNN {raw['knn_acc']:.3f}, linear {raw['linear_acc']:.3f}, RankMe {raw['rankme']:.1f}")


if __name__ == "__main__":
    started = time.time()
    main()
    print(f"\ntotal {time.time() - started:.0f} s")

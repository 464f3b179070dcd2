"""Peak memory while training one epoch on a uint8 image array larger than the stream limit.

    python benchmarks/peak_rss.py --gb 4 --side 128 --folder /tmp/selfsup_rss

Writes ``big.npy`` (uint8 ``[N, side, side, 3]``, about ``--gb`` GB of random pixels, written in
chunks so this script never holds it), then runs one epoch of SimCLR on it in a child process:
``selfsup pretrain --data big.npy --modality image --epochs 1`` with the small CNN, no online
monitor and no random-init / raw-input evaluation (the final evaluation embeds every image once).
Peak RSS is the child's ``ru_maxrss`` (the kernel's high-water mark of resident memory), printed
next to the array's size. Pages of the file in the kernel's page cache are not the process's and
are not counted; that is the point of reading batches with ``pread`` instead of loading.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def write_array(path: Path, n: int, side: int, chunk: int = 2048) -> None:
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, side, side, 3))
    rng = np.random.default_rng(0)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        array[start:stop] = rng.integers(0, 256, (stop - start, side, side, 3), dtype=np.uint8)
        array.flush()
    del array


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=4.0, help="array size in GB (1e9 bytes)")
    parser.add_argument("--side", type=int, default=128, help="image side in pixels (RGB)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/selfsup_rss"))
    args = parser.parse_args()

    args.folder.mkdir(parents=True, exist_ok=True)
    path = args.folder / "big.npy"
    n = int(args.gb * 1e9) // (args.side * args.side * 3)
    if not path.exists() or path.stat().st_size < n * args.side * args.side * 3:
        write_array(path, n, args.side)
    size = path.stat().st_size
    run = args.folder / "run"
    command = [
        sys.executable, "-m", "selfsup", "pretrain", "--data", str(path), "--modality", "image",
        "--method", "simclr", "--encoder", "small_cnn", "--epochs", "1", "--batch-size", str(args.batch_size),
        "--set", "eval.every_n_epochs=0", "--set", "eval.random_init=false", "--set", "eval.raw_input=false",
        "--out", str(run), "--overwrite", "--no-progress",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"selfsup failed:\n{done.stdout}\n{done.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({
        "array_bytes": size, "images": n, "shape": [n, args.side, args.side, 3],
        "peak_rss_bytes": peak, "peak_rss_over_array": round(peak / size, 3),
        "seconds": round(seconds, 1), "batch_size": args.batch_size,
    }))


if __name__ == "__main__":
    main()

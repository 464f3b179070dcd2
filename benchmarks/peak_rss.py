"""Peak memory while training one epoch on a uint8 image array larger than the stream limit.

    python benchmarks/peak_rss.py --gb 4 --side 64 --batch-size 256 --encoder mlp --views none
    python benchmarks/peak_rss.py --gb 4 --side 64 --batch-size 256 --encoder mlp --views none --hf

Writes ``big.npy`` (uint8 ``[N, side, side, 3]``, about ``--gb`` GB of random pixels, written in
chunks so this script never holds it) and ``control.npy`` (the same images, ``--control-gb``
of them), then runs one epoch of SimCLR on each, one at a time, in a fresh process:
``selfsup pretrain --data <file> --modality image --epochs 1`` with ``--encoder`` and ``--views``
(default ``mlp`` and ``none``: the data path is what is measured, and a cheap model lets one
epoch over 4 GB finish in minutes on 2 cores; the small CNN on 64×64 images reads ~110 images/s
here, 50 minutes an epoch), no online monitor and no random-init / raw-input evaluation (the
final evaluation embeds every image once).
Each process reports its own peak resident memory (``ru_maxrss``, the kernel's high-water mark).
``--hf`` writes the same images as Hugging Face datasets (``save_to_disk`` folders, an
``Array3D(uint8)`` column and a label) and trains on the folders instead (``--data <folder>``),
which selfsup reads batch by batch from the memory-mapped Arrow files.

The control isolates what the data costs: activations of the batch, the model, Python and
PyTorch are the same in both runs, so if the large array were held in memory, its peak would
exceed the control's by about the array's size. Pages of the file in the kernel's page cache
belong to no process and are not counted; that is the point of reading batches with ``pread``.
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


def write_array(path: Path, n: int, side: int, chunk: int = 4096) -> None:
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, side, side, 3))
    rng = np.random.default_rng(0)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        array[start:stop] = rng.integers(0, 256, (stop - start, side, side, 3), dtype=np.uint8)
        array.flush()
    del array


def write_hf(npy: Path, folder: Path, chunk: int = 4096) -> None:
    """The images of ``npy`` (and a label per image) as a Hugging Face ``save_to_disk`` folder."""
    import datasets

    images = np.load(npy, mmap_mode="r")
    features = datasets.Features({"image": datasets.Array3D(images.shape[1:], "uint8"),
                                  "label": datasets.Value("int64")})

    def rows():
        for start in range(0, len(images), chunk):
            block = np.asarray(images[start:start + chunk])
            for i, image in enumerate(block):
                yield {"image": image, "label": (start + i) % 10}

    cache = folder.with_name(folder.name + "_cache")
    datasets.Dataset.from_generator(rows, features=features, cache_dir=str(cache)).save_to_disk(str(folder))


def child(argv: list[str]) -> None:
    """Run ``selfsup pretrain`` with ``argv`` in this process; print the peak RSS at the end of
    training (``TRAIN_PEAK_RSS``: data, model and training) and at the end of the run
    (``PEAK_RSS``: also the final evaluation, which holds N x D embeddings)."""
    import lightning as L

    import selfsup.cli
    from selfsup import api

    class TrainPeak(L.Callback):
        # the process's own memory (RssAnon), sampled at every step: ru_maxrss also counts the pages of
        # memory-mapped files (Arrow), which belong to the page cache and are given back under pressure
        anon = 0

        def on_train_batch_end(self, *args):
            status = Path("/proc/self/status").read_text()
            line = next((x for x in status.splitlines() if x.startswith("RssAnon:")), "RssAnon: 0 kB")
            self.anon = max(self.anon, int(line.split()[1]) * 1024)

        def on_train_end(self, trainer, module):
            print("TRAIN_PEAK_RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, flush=True)
            print("TRAIN_PEAK_ANON", self.anon, flush=True)

    pretrain = api.pretrain
    api.pretrain = lambda *a, **k: pretrain(*a, **{**k, "callbacks": [TrainPeak()]})
    try:
        selfsup.cli.app(argv, standalone_mode=False)
    finally:
        print("PEAK_RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, flush=True)


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def measure(path: Path, batch_size: int, out: Path, encoder: str, views: str) -> dict[str, float]:
    argv = [
        "pretrain", "--data", str(path), "--modality", "image", "--method", "simclr",
        "--encoder", encoder, "--views", views, "--epochs", "1", "--batch-size", str(batch_size),
        "--set", "eval.every_n_epochs=0", "--set", "eval.random_init=false", "--set", "eval.raw_input=false",
        "--out", str(out), "--overwrite", "--no-progress",
    ]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True, text=True)
    lines = done.stdout.splitlines()
    peak = [line for line in lines if line.startswith("PEAK_RSS")]
    train_peak = [line for line in lines if line.startswith("TRAIN_PEAK_RSS")]
    anon = [line for line in lines if line.startswith("TRAIN_PEAK_ANON")]
    if done.returncode != 0 or not peak or not train_peak:
        sys.exit(f"selfsup failed on {path}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return {"array_bytes": _size(path), "train_peak_rss_bytes": int(train_peak[-1].split()[1]),
            "train_peak_anon_bytes": int(anon[-1].split()[1]) if anon else None,
            "peak_rss_bytes": int(peak[-1].split()[1]), "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gb", type=float, default=4.0, help="large array size in GB (1e9 bytes)")
    parser.add_argument("--control-gb", type=float, default=0.25, help="control array size in GB")
    parser.add_argument("--side", type=int, default=64, help="image side in pixels (RGB)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--encoder", default="mlp")
    parser.add_argument("--views", default="none")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/selfsup_rss"))
    parser.add_argument("--hf", action="store_true", help="train on Hugging Face save_to_disk folders of the images")
    args = parser.parse_args()

    args.folder.mkdir(parents=True, exist_ok=True)
    row = args.side * args.side * 3
    results = {}
    for name, gb in (("control", args.control_gb), ("large", args.gb)):
        path = args.folder / f"{name}.npy"
        n = int(gb * 1e9) // row
        if not path.exists() or path.stat().st_size < n * row:
            write_array(path, n, args.side)
        if args.hf:
            folder = args.folder / f"{name}_hf"
            if not (folder / "state.json").is_file():
                write_hf(path, folder)
            path = folder
        results[name] = {"images": n, **measure(path, args.batch_size, args.folder / f"run_{name}", args.encoder, args.views)}
    large, control = results["large"], results["control"]
    print(json.dumps({
        "hf": args.hf, "side": args.side, "batch_size": args.batch_size, "encoder": args.encoder, "views": args.views, **{f"{k}_{key}": v for k, r in results.items() for key, v in r.items()},
        "large_train_peak_over_array": round(large["train_peak_rss_bytes"] / large["array_bytes"], 3),
        "large_minus_control_train_peak_bytes": large["train_peak_rss_bytes"] - control["train_peak_rss_bytes"],
        "date": time.strftime("%Y-%m-%d"),
    }))


if __name__ == "__main__":
    main()

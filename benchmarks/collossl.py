"""ColloSSL (all devices) vs single-device SimCLR vs random init, at equal labels on the anchor device.

    python benchmarks/collossl.py                        # 3 pretraining seeds, 1 % / 10 % / 100 % labels
    python benchmarks/collossl.py --anchor thigh --seeds 0 1
    python benchmarks/collossl.py --ablations            # + ColloSSL with random / all-positive selection
    python benchmarks/collossl.py --quick                # < 1 min smoke run (tiny data and encoder)

Protocol (the paper's low-label comparison, with a linear probe instead of fine-tuning):

* data: the built-in ``synthetic_har`` (5 body-worn devices, 6 activities, fixed split by subject);
* ColloSSL pretrains on all devices with the anchor as its anchor (``configs/collossl_multidevice.yaml``);
  single-device SimCLR pretrains on the anchor device's windows only (``synthetic_har`` with
  ``device=<anchor>``, the modality's default ``ts_augment`` views); both use the same encoder,
  epochs, batch, optimiser and seed;
* every encoder (and a random-init one of the same architecture and seed) embeds the anchor
  device's train and test windows; a linear probe (``selfsup.eval.linear_probe``) is fitted on
  the same ``fraction`` of the train labels per class for every encoder (several label draws) and
  scored on the anchor's test windows: accuracy and macro-F1 (what HAR papers report).

Prints a Markdown table (mean ± std over pretraining seeds x label draws) for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import selfsup
from selfsup.api import build_encoder
from selfsup.config import build_config
from selfsup.data import load_data
from selfsup.eval import embed_tensor
from selfsup.eval.linear import linear_probe
from selfsup.modalities.timeseries.data.multidevice import DEVICES

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "configs" / "collossl_multidevice.yaml"


def pretrain_configs(args: argparse.Namespace) -> dict[str, dict]:
    """The runs to compare, as configuration dicts: the recipe, and SimCLR on the anchor only."""
    base = build_config(str(RECIPE)).to_dict()
    base["encoder"] = {"name": "dilated_cnn", **args.encoder}
    base["train"].update(epochs=args.epochs, batch_size=args.batch_size, warmup_epochs=args.warmup_epochs)
    base["eval"]["every_n_epochs"] = 0
    base["data"]["options"] = {"n": args.n}
    base["method"]["anchor"] = DEVICES.index(args.anchor)
    runs = {"ColloSSL (all devices)": base}
    if args.ablations:
        for selection in ("random", "all"):
            runs[f"ColloSSL, {selection} selection"] = {
                **base, "method": {**base["method"], "selection": selection, "weighted": False}
            }
    simclr = {**base, "method": {"name": "simclr"}, "views": {"name": "ts_augment"}}
    simclr["data"] = {**base["data"], "options": {"n": args.n, "device": args.anchor}}
    runs[f"SimCLR ({args.anchor} only)"] = simclr
    return runs


def last_logged(run_dir: Path, key: str) -> str | None:
    """The last value of ``key`` in a run's metrics.csv (e.g. ColloSSL's positive device)."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return None
    values = [row[key] for row in csv.DictReader(path.open()) if row.get(key) not in (None, "")]
    return values[-1] if values else None


def label_subset(y: np.ndarray, fraction: float, draw: int) -> np.ndarray:
    """The same number of labels per class (``fraction`` of the smallest class, at least 1)."""
    rng = np.random.default_rng(1000 + draw)
    classes = np.unique(y)
    per_class = max(1, round(fraction * min(int((y == c).sum()) for c in classes)))
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in classes])


def probe(train_emb, y_train, test_emb, y_test, fractions, draws) -> dict[float, list[dict]]:
    y = y_train.numpy()
    return {
        f: [linear_probe(train_emb[idx], y[idx], test_emb, y_test)
            for idx in (label_subset(y, f, d) for d in range(draws))]
        for f in fractions
    }


def fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (< 1 min): tiny data, encoder and epochs; other flags still apply")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--warmup-epochs", type=float, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n", type=int, default=3600, help="windows in synthetic_har")
    parser.add_argument("--anchor", default="wrist", choices=DEVICES)
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.01, 0.1, 1.0])
    parser.add_argument("--draws", type=int, default=5, help="label draws per fraction")
    parser.add_argument("--ablations", action="store_true")
    if parser.parse_known_args()[0].quick:
        parser.set_defaults(seeds=[0], epochs=2, warmup_epochs=0, n=720, batch_size=64, draws=2,
                            fractions=[0.1, 1.0])
    args = parser.parse_args()
    args.encoder = ({"hidden_dim": 16, "depth": 2, "output_dim": 32} if args.quick
                    else {"hidden_dim": 32, "depth": 4, "output_dim": 64})

    anchor = load_data("synthetic_har", n=args.n, device=args.anchor)
    configs = pretrain_configs(args)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; synthetic_har n={args.n}, anchor {args.anchor}, "
          f"{args.epochs} epochs, batch {args.batch_size}, dilated_cnn {args.encoder}, seeds {args.seeds}, "
          f"{args.draws} label draws\n", flush=True)

    scores: dict[str, dict[float, list[dict]]] = {}
    notes: list[str] = []

    def add(name: str, encoder: torch.nn.Module) -> None:
        train_emb = embed_tensor(encoder, anchor.train.x)
        test_emb = embed_tensor(encoder, anchor.test.x)
        for f, results in probe(train_emb, anchor.y_train, test_emb, anchor.y_test, args.fractions, args.draws).items():
            scores.setdefault(name, {}).setdefault(f, []).extend(results)

    flat_train = anchor.train.x.flatten(1)
    flat_test = anchor.test.x.flatten(1)
    for f, results in probe(flat_train, anchor.y_train, flat_test, anchor.y_test, args.fractions, args.draws).items():
        scores.setdefault("raw windows (no encoder)", {})[f] = results

    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            input_shape = tuple(anchor.train.x.shape[1:])
            add("random init", build_encoder("dilated_cnn", input_shape, args.encoder, seed))
            for number, (name, config) in enumerate(configs.items()):
                out = Path(tmp) / f"run{number}-seed{seed}"
                started = time.time()
                result = selfsup.pretrain(config, seed=seed, out=str(out), progress=False)
                positive = last_logged(out, "positive_device")
                if positive is not None:
                    notes.append(f"{name}, seed {seed}: positive device {DEVICES[int(float(positive))]} "
                                 f"(last step), {time.time() - started:.0f} s")
                else:
                    notes.append(f"{name}, seed {seed}: {time.time() - started:.0f} s")
                add(name, selfsup.load(out))
                del result

    total = anchor.y_train.numel()
    print("| encoder | labels per class | accuracy | macro-F1 |")
    print("|---|---|---|---|")
    for f in args.fractions:
        per_class = label_subset(anchor.y_train.numpy(), f, 0).size // len(anchor.class_names)
        for name, by_fraction in scores.items():
            results = by_fraction[f]
            print(f"| {name} | {per_class} ({f:.0%} of {total // len(anchor.class_names)}) "
                  f"| {fmt([r['accuracy'] for r in results])} | {fmt([r['macro_f1'] for r in results])} |")
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    started = time.time()
    main()
    print(f"\ntotal {time.time() - started:.0f} s")

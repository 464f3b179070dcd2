"""What the final evaluation costs next to training, and what bounding the SVM probe's search buys.

    python benchmarks/eval_cost.py [--epochs 2] [--cv 1000 10000]
    python benchmarks/eval_cost.py --linear-run RUN_DIR [--linear-max 20000]

A short default run (SimCLR, the series modality's sized encoder) on the issue's 4,000 synthetic
control charts of length 40 (benchmarks/sized_defaults.py), once per ``eval.svm_cv_samples``
value, in one process. Prints training and evaluation seconds (metrics.json ``train_seconds`` /
``eval_seconds``) and the SVM probe's accuracy for the pretrained, random-init and raw-input
columns: the cross-validation that picks ``C`` on at most N samples versus on all of them
(TS2Vec's protocol: up to 10,000).

``--linear-run`` instead takes a finished run on a large labelled set (e.g. ``fashion_mnist``),
embeds its train and test splits with the run's encoder, and times the linear probe on all
training embeddings and on a stratified ``--linear-max`` of them (``eval.linear_max_samples``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import selfsup

sys.path.insert(0, str(Path(__file__).parent))
from sized_defaults import control_charts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cv", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--linear-run", default=None)
    parser.add_argument("--linear-max", type=int, default=20_000)
    args = parser.parse_args()
    print(f"# {platform.node()} {time.strftime('%Y-%m-%d %H:%M')}")
    if args.linear_run:
        linear_cost(args.linear_run, args.linear_max)
        return
    print("| eval.svm_cv_samples | training s | evaluation s | svm acc pretrained | random-init | raw input |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        x, y = control_charts(5000)
        path = Path(tmp) / "series.npz"
        np.savez(path, x=x[:4000], y=y[:4000], x_test=x[4000:], y_test=y[4000:])
        for cv in args.cv:
            m = selfsup.pretrain(method="simclr", data=str(path), modality="timeseries", out=f"{tmp}/run{cv}",
                                 epochs=args.epochs, progress=False,
                                 overrides=["eval.every_n_epochs=0", f"eval.svm_cv_samples={cv}"]).metrics
            print(f"| {cv} | {m['train_seconds']} | {m['eval_seconds']} | {m['pretrained']['svm_acc']:.3f} "
                  f"| {m['random_init']['svm_acc']:.3f} | {m['raw_input']['svm_acc']:.3f} |", flush=True)


def linear_cost(run: str, cap: int) -> None:
    from selfsup.eval.linear import linear_probe
    from selfsup.finished import open_run_data

    encoder, source = open_run_data(run, selfsup.config.load_config(Path(run) / "config.yaml").data.name)
    from selfsup.engine.evaluation import embed_split

    train, test = embed_split(encoder, source, source.train), embed_split(encoder, source, source.test)
    print("| linear probe fitted on | training samples | seconds | accuracy |")
    print("|---|---:|---:|---:|")
    for label, limit in (("all", None), (f"stratified {cap:,}", cap)):
        started = time.perf_counter()
        result = linear_probe(train, source.y_train, test, source.y_test, max_train=limit)
        used = len(train) if limit is None else min(limit, len(train))
        print(f"| {label} | {used:,} | {time.perf_counter() - started:.1f} | {result['accuracy']:.4f} |", flush=True)


if __name__ == "__main__":
    main()

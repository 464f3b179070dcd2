"""Accuracy reached within a ``--time-budget``, next to the random-init encoder: the curve a user
reads to pick a budget (issue 18).

    python benchmarks/time_budget.py                                   # 1 and 5 minutes, four data sets
    python benchmarks/time_budget.py --budgets 1m 5m 15m --data digits ucr:GunPoint

Each row is one ``selfsup.pretrain(method=..., data=..., time_budget=...)`` with every other setting
at its default (the modality's default, data-sized encoder; SimCLR unless ``--method``), online
monitoring off so the budget buys training only. Columns: the budget, the seconds the training
loop took (``time_budget.trained_seconds``; evaluation is not counted), the epochs and steps the
budget bought, the linear-probe accuracy of the pretrained and of the random-init encoder, and the
seconds of the whole run (set-up and evaluation included). ``--series-file`` adds a user's
``.npz`` of series (``x``, ``y``, ``x_test``, ``y_test``) as one more data set.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import selfsup

DATASETS = ["digits", "ucr:GunPoint", "synthetic_har", "fashion_mnist"]


def run(data: str, budget: str, method: str, modality: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.time()
        flags = {"modality": modality} if modality else {}
        result = selfsup.pretrain(method=method, data=data, time_budget=budget, out=str(Path(tmp) / "run"),
                                  progress=False, overrides=["eval.every_n_epochs=0"], **flags)
        plan = result.metrics["time_budget"]
        return {
            "data": data, "budget": budget, "method": method,
            "trained_seconds": plan["trained_seconds"], "epochs": plan["epochs"], "steps": plan["steps"],
            "stopped_by": plan["stopped_by"],
            "linear": result.metrics["pretrained"]["linear_acc"],
            "random_init": result.metrics["random_init"]["linear_acc"],
            "encoder": result.metrics["encoder"],
            "seconds": round(time.time() - started, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=DATASETS)
    parser.add_argument("--budgets", nargs="+", default=["1m", "5m"])
    parser.add_argument("--method", default="simclr")
    parser.add_argument("--series-file", default=None, help="an .npz of series to add (modality timeseries)")
    parser.add_argument("--results", default=None, help="append each row as JSON to this file")
    args = parser.parse_args()
    sets = [(d, None) for d in args.data] + ([(args.series_file, "timeseries")] if args.series_file else [])
    print(f"# {platform.node()} {time.strftime('%Y-%m-%d %H:%M')}")
    print("| data | budget | trained s | epochs | steps | linear acc | random-init | encoder | run s |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|")
    for data, modality in sets:
        for budget in args.budgets:
            row = run(data, budget, args.method, modality)
            print(f"| {Path(data).name} | {budget} | {row['trained_seconds']} | {row['epochs']} | {row['steps']} | "
                  f"{row['linear']:.3f} | {row['random_init']:.3f} | {row['encoder']} | {row['seconds']} |", flush=True)
            if args.results:
                with open(args.results, "a") as f:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

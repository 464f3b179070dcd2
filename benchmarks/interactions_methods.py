"""Every interactions method on ml-100k next to LightGCN, the popularity ranking and random init.

    python benchmarks/interactions_methods.py                        # every method, 100 epochs
    python benchmarks/interactions_methods.py --epochs 30 --methods lightgcn simgcl

Each method trains from its recipe ``configs/<method>_ml-100k.yaml`` (the papers' settings:
64-d, batch 2048, Adam 1e-3) for ``--epochs`` epochs through the public API, on the same split
(RecBole's default for ml-100k: every rating a positive, random 0.8 / 0.1 / 0.1 per user, seed
0). The table prints the full-ranking test figures (training and validation items excluded):
Recall@20, NDCG@20, the share of top-20 slots given to long-tail items and the catalogue
coverage@20; the popularity ranking and the random-init LightGCN beside them; and the training
loop's seconds per epoch. One JSON line per method goes to ``--results``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import selfsup

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["bpr_mf", "lightgcn", "sgl", "simgcl", "xsimgcl", "ncl", "dccf", "lightgcl", "two_tower", "two_tower_ssl"]
KEYS = ("recall@20", "ndcg@20", "long_tail@20", "coverage@20")


def run(method: str, epochs: int, out: Path) -> dict:
    started = time.time()
    result = selfsup.pretrain(str(ROOT / "configs" / f"{method}_ml-100k.yaml"), epochs=epochs, out=str(out),
                              progress=False, overrides=["eval.every_n_epochs=0"])
    test = result.metrics["recommendation"]["test"]
    return {"method": method, "epochs": epochs, **{k: test["pretrained"][k] for k in KEYS},
            "random_init": {k: test["random_init"][k] for k in KEYS},
            "popularity": {k: test["popularity"][k] for k in KEYS},
            "seconds_per_epoch": result.metrics.get("seconds_per_epoch"), "seconds": round(time.time() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--results", default=str(ROOT / "benchmarks" / "interactions_results.jsonl"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods:
            row = run(method, args.epochs, Path(tmp) / method)
            rows.append(row)
            with open(args.results, "a") as handle:
                handle.write(json.dumps({**row, "date": time.strftime("%Y-%m-%d")}) + "\n")
            print(json.dumps(row), flush=True)
    print(f"\n| method | Recall@20 | NDCG@20 | long-tail@20 | coverage@20 | s/epoch |  ({args.epochs} epochs)")
    print("|---|---|---|---|---|---|")
    first = rows[0]
    for label, figures in (("popularity", first["popularity"]), ("LightGCN random init", first["random_init"])):
        print(f"| {label} | " + " | ".join(f"{figures[k]:.4f}" for k in KEYS) + " | — |")
    for row in rows:
        print(f"| {row['method']} | " + " | ".join(f"{row[k]:.4f}" for k in KEYS) + f" | {row['seconds_per_epoch']} |")


if __name__ == "__main__":
    main()

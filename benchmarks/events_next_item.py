"""Next-item prediction on ml-100k-sequences: CL4SRec vs SASRec vs popularity, leave-one-out.

    OMP_NUM_THREADS=1 python benchmarks/events_next_item.py                 # both methods, 40 epochs
    OMP_NUM_THREADS=1 python benchmarks/events_next_item.py --epochs 100 --methods sasrec

The protocol of SASRec (Kang & McAuley 2018) and CL4SRec (Xie et al. 2022) as RecBole runs it on
MovieLens-100K: every one of the 943 users' last rating is held out (``next_item="item_id"``),
the model trains on the ratings before it, then ranks all items of the catalogue for each user
from the (last 50) ratings before the held-out one; HR@10 and NDCG@10 of the held-out item. Full
ranking; items the user has already rated are not excluded (RecBole's default for sequential
models); a held-out item that never occurs in training counts as a miss. Unlike RecBole, there is
no validation item (the second-to-last) and no early stopping: each method trains ``--epochs``
epochs and is scored once.

Each method runs through the public API with its registered defaults (a causal
``event_transformer``, 2 layers, 2 heads, d = 64, item embeddings tied to the scores; CL4SRec's
``event_augment`` views, weight 0.1, dot-product InfoNCE), on all 943 users (no entity split: the
user-label probes of the run score its own training users and mean nothing here), with the
final evaluation's random-init and raw-input probes off. ``seconds`` is the whole run (training,
the run's final evaluation, which embeds every user's full history, and its report); ``train s``
the training loop alone. Popularity ranks the items by their training count for every user.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import torch

import selfsup
from selfsup.eval.next_item import popularity_ranks, ranking_scores
from selfsup.modality import get_modality

METHODS = ["sasrec", "cl4srec"]


def ml100k_next_item():
    """All 943 users of ml-100k-sequences with their last rating held out (no entity split)."""
    get_modality("events")
    from selfsup.modalities.events.data.builtins import ml100k_sequences

    return ml100k_sequences(test_fraction=0.0, next_item="item_id")


def popularity(source) -> dict[str, float]:
    task = source.next_item
    return ranking_scores(popularity_ranks(task.counts, task.train[task.train_evaluated]), 10)


def run_method(method: str, source, epochs: int, batch_size: int, lr: float, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / method
        started = time.time()
        selfsup.pretrain(method=method, data=source, epochs=epochs, batch_size=batch_size, seed=seed, out=str(out),
                         progress=False, overrides=[f"train.lr={lr}", "eval.every_n_epochs=0",
                                                    "eval.random_init=false", "eval.raw_input=false"])
        metrics = json.loads((out / "metrics.json").read_text())
    scores = metrics["next_item"]
    return {"hr@10": scores["hr@10"], "ndcg@10": scores["ndcg@10"], "entities": scores["entities"],
            "seconds": round(time.time() - started, 1), "train_seconds": metrics["train_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.012,
                        help="the engine's lr for a batch of 256 (scaled linearly: 0.006 at batch 128)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    source = ml100k_next_item()
    print(f"ml-100k-sequences, leave-one-out, {int(source.next_item.train_evaluated.sum())} users, "
          f"{source.next_item.num_items} items; epochs={args.epochs}, batch {args.batch_size}, lr {args.lr}, "
          f"seed {args.seed}")
    rows = {"popularity": {**popularity(source), "seconds": 0.0, "train_seconds": 0.0}}
    for method in args.methods:
        rows[method] = run_method(method, source, args.epochs, args.batch_size, args.lr, args.seed)
    print(f"{'method':<12}{'HR@10':>8}{'NDCG@10':>9}{'seconds':>9}{'train s':>9}")
    for name, row in rows.items():
        print(f"{name:<12}{row['hr@10']:>8.4f}{row['ndcg@10']:>9.4f}{row['seconds']:>9.1f}{row['train_seconds']:>9.1f}")


if __name__ == "__main__":
    main()

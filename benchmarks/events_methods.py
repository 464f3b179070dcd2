"""Event-sequence methods on the built-ins, next to their random-init encoder and the practitioner's
baseline: hand-made aggregate features with a logistic regression and LightGBM.

    python benchmarks/events_methods.py                                  # both built-ins
    python benchmarks/events_methods.py --data synthetic_transactions --methods coles simclr --epochs 30

Each method runs through the public API with its registered defaults (``coles``: ``event_gru`` +
``coles_slices``; ``event_cpc``: ``event_gru``, no views; ``masked_events``: the bidirectional
``event_transformer``, no views; the catalogue methods get the modality's defaults, the same
encoder and views) for ``--epochs`` epochs. The table prints the linear-probe accuracy on the
entity embeddings of the pretrained encoder and of the same encoder at its random initialisation,
LightGBM on the pretrained embeddings and on the aggregates below concatenated with them (the
CoLES paper's downstream protocol: gradient boosting on the embeddings, Section 4), and the
seconds of the whole run. Below it, the aggregate baseline of the CoLES paper (Babaev et al. 2022, Section 4:
"hand-crafted features" + gradient boosting): per entity, the count and share of events in every
category of every categorical field, the sum, mean, std, min and max of every numeric field, overall
and per category of the first categorical field, the mean and std of the time deltas, and the
sequence length; scored with a standardised logistic regression and with LightGBM (``pip install
lightgbm``; skipped when it is missing — the library never imports it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import selfsup
from selfsup.data import load_data

DATASETS = ["ml-100k-sequences", "synthetic_transactions"]
METHODS = ["coles", "event_cpc", "masked_events", "simclr", "vicreg", "barlow_twins", "byol"]
# The first categorical field of ml-100k is the item (1,659 values): per-item sums would be a
# bag of items; its second field (genre) carries the per-category numeric aggregates instead.
PER_CATEGORY_FIELD = {"ml-100k-sequences": 1}


def aggregate_features(store, per_category_field: int = 0) -> np.ndarray:
    """``[N, F]`` hand-made aggregates of an :class:`EventStore` (module doc)."""
    owner = np.repeat(np.arange(len(store)), store.lengths.numpy())
    n = len(store)
    columns = []

    def per_entity(values: np.ndarray, groups: np.ndarray, width: int) -> np.ndarray:
        out = np.zeros((n, width))
        np.add.at(out, (owner, groups), values)
        return out

    lengths = store.lengths.numpy().astype(float)
    categorical, numeric, delta = store.categorical.numpy(), store.numeric.numpy(), store.delta.numpy()
    for j, cardinality in enumerate(store.cardinalities):
        counts = per_entity(np.ones(len(owner)), categorical[:, j], cardinality)
        columns += [counts, counts / lengths[:, None]]
    for f in range(numeric.shape[1]):
        values = numeric[:, f]
        total = per_entity(values, np.zeros(len(owner), dtype=int), 1)[:, 0]
        squares = per_entity(values ** 2, np.zeros(len(owner), dtype=int), 1)[:, 0]
        mean = total / lengths
        low, high = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(low, owner, values)
        np.maximum.at(high, owner, values)
        columns.append(np.stack([total, mean, np.sqrt(np.clip(squares / lengths - mean ** 2, 0, None)), low, high], 1))
        if store.cardinalities:
            group = categorical[:, per_category_field]
            cardinality = store.cardinalities[per_category_field]
            sums = per_entity(values, group, cardinality)
            counts = per_entity(np.ones(len(owner)), group, cardinality)
            columns += [sums, sums / np.maximum(counts, 1)]
    delta_sum = per_entity(delta, np.zeros(len(owner), dtype=int), 1)[:, 0]
    delta_sq = per_entity(delta ** 2, np.zeros(len(owner), dtype=int), 1)[:, 0]
    delta_mean = delta_sum / lengths
    columns.append(np.stack([delta_mean, np.sqrt(np.clip(delta_sq / lengths - delta_mean ** 2, 0, None)),
                             np.log1p(lengths)], 1))
    return np.concatenate(columns, axis=1)


def lightgbm_accuracy(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
                      seed: int = 0) -> float | None:
    """Test accuracy of LightGBM (the settings the aggregates are scored with), None without it."""
    try:
        import lightgbm
    except ImportError:
        return None
    booster = lightgbm.LGBMClassifier(n_estimators=300, learning_rate=0.03, num_leaves=15, subsample=0.8,
                                      subsample_freq=1, colsample_bytree=0.5, random_state=seed, verbose=-1)
    return float(booster.fit(train, y_train).score(test, y_test))


def aggregate_baselines(data: str, seed: int = 0) -> dict[str, float]:
    """Test accuracy of a logistic regression and of LightGBM on the aggregate features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    source = load_data(data, modality="events", seed=seed)
    train, test = split_aggregates(source, data)
    y_train, y_test = source.y_train.numpy(), source.y_test.numpy()
    logistic = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    scores = {"logistic": float(logistic.fit(train, y_train).score(test, y_test))}
    booster = lightgbm_accuracy(train, y_train, test, y_test, seed)
    if booster is not None:
        scores["lightgbm"] = booster
    return scores


def split_aggregates(source, data: str) -> tuple[np.ndarray, np.ndarray]:
    """The aggregate features of the train and test entities of an events source."""
    field = PER_CATEGORY_FIELD.get(data, 0)
    return aggregate_features(source.train.store, field), aggregate_features(source.test.store, field)


def embeddings(encoder, source) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's embeddings of the train and test entities, in the splits' order."""
    from selfsup.eval import embed_loader

    return tuple(embed_loader(encoder, source.loader(split, 256), source.finish).numpy()
                 for split in (source.train, source.test))


def lightgbm_on_embeddings(encoder, source, aggregates: tuple[np.ndarray, np.ndarray],
                           seed: int = 0) -> tuple[float | None, float | None]:
    """LightGBM's test accuracy on the embeddings, and on the aggregates next to them."""
    (train, test), y_train, y_test = embeddings(encoder, source), source.y_train.numpy(), source.y_test.numpy()
    alone = lightgbm_accuracy(train, y_train, test, y_test, seed)
    both = lightgbm_accuracy(np.concatenate([aggregates[0], train], 1), y_train,
                             np.concatenate([aggregates[1], test], 1), y_test, seed)
    return alone, both


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", nargs="*", default=DATASETS)
    parser.add_argument("--methods", nargs="*", default=METHODS)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fmt = lambda score: "–" if score is None else f"{score:.3f}"
    for data in args.data:
        print(f"\n### {data}\n\n| method | linear acc | random-init | kNN acc | random-init kNN | "
              "LightGBM on embeddings | LightGBM on aggregates + embeddings | seconds |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        source = load_data(data, modality="events", seed=args.seed)
        aggregates = split_aggregates(source, data)
        for method in args.methods:
            with tempfile.TemporaryDirectory() as tmp:
                started = time.time()
                run = selfsup.pretrain(method=method, data=data, epochs=args.epochs, batch_size=args.batch_size,
                                       seed=args.seed, out=str(Path(tmp) / "run"), progress=False,
                                       overrides=["eval.every_n_epochs=0"])
                seconds = time.time() - started
            alone, both = lightgbm_on_embeddings(run.encoder, source, aggregates, args.seed)
            m = run.metrics
            print(f"| {method} | {m['pretrained']['linear_acc']:.3f} | {m['random_init']['linear_acc']:.3f} | "
                  f"{m['pretrained']['knn_acc']:.3f} | {m['random_init']['knn_acc']:.3f} | {fmt(alone)} | "
                  f"{fmt(both)} | {seconds:.0f} |", flush=True)
        baselines = aggregate_baselines(data, args.seed)
        print(f"| aggregates + logistic regression | {baselines['logistic']:.3f} | | | | | | |")
        if "lightgbm" in baselines:
            print(f"| aggregates + LightGBM | {baselines['lightgbm']:.3f} | | | | | | |")

if __name__ == "__main__":
    main()

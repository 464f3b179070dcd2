"""Text methods on the built-ins, next to their random-init encoder and the practitioner's baseline,
TF-IDF with a logistic regression.

    python benchmarks/text_methods.py --data fortunes --methods mlm simcse --budget 180
    python benchmarks/text_methods.py --data bible_verses --budget 180 --jobs 2
    python benchmarks/text_methods.py --table            # Markdown for RESULTS.md from the results file

Each method runs through the public API with the text modality's defaults (``bert`` tiny, mean
pooling, batch 64, AdamW at 1e-3; the method's own views) for ``--budget`` seconds of training
(``train.time_budget``; evaluation not counted). The pretrained encoder and the same encoder at its
random initialisation are scored by the run's own final evaluation: the linear probe and kNN
(k = 20) on the embeddings of the train / test split, and on ``bible_verses`` the label-free
KJV ↔ WEB verse retrieval (Recall@1 and @10 over the test verses, at most 5,000 of them). On
``bible_verses`` the run's label is the book; the testament and the genre of each verse follow from
its book, so the benchmark scores those two with linear probes on the same embeddings (one split,
stratified by book).

The baseline: ``TfidfVectorizer`` (word unigrams and bigrams, sublinear tf, min_df 2, fitted on the
train split) + ``LogisticRegression`` (C = 10, not tuned); and for
the verse retrieval, cosine similarity between the TF-IDF vectors of the two translations.

Each method runs in a fresh process with one thread (``--jobs`` of them side by side), and appends
a row to ``benchmarks/text_results.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _isolated import call_isolated  # noqa: E402

RESULTS = Path(__file__).with_name("text_results.jsonl")
DATASETS = ["fortunes", "bible_verses"]
METHODS = ["mlm", "simcse", "electra", "mirror_bert", "declutr", "byol", "vicreg"]


def verse_labels(source: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{label: (y_train, y_test)}`` for book, testament and genre of a bible_verses source whose
    label is the book (testament and genre follow from the book)."""
    from selfsup.modalities.text.data.bible import BOOKS, GENRE

    names = source.class_names
    index = {book: i for i, book in enumerate(BOOKS)}
    labels = {"book": (source.y_train.numpy(), source.y_test.numpy())}
    for target, of in (("testament", lambda b: "old" if index[b] < 39 else "new"), ("genre", lambda b: GENRE[b])):
        mapped = np.array([of(book) for book in names])
        classes, codes = np.unique(mapped, return_inverse=True)
        labels[target] = (codes[source.y_train.numpy()], codes[source.y_test.numpy()])
    return labels


def linear_accuracy(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray) -> float:
    from selfsup.eval.linear import linear_probe_accuracy

    return float(linear_probe_accuracy(train, y_train, test, y_test))


def pretrain_one(data: str, method: str, budget: float, seed: int, limit: int | None = None) -> dict[str, Any]:
    """One method's run and its scores (in a fresh process: see ``main``)."""
    import selfsup
    from selfsup.assembly import build_encoder
    from selfsup.data import load_data
    from selfsup.engine.evaluation import embed_split
    from selfsup.modality import get_modality

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        options = [f"data.options.limit={limit}"] if limit else []
        run = selfsup.pretrain(method=method, data=data, time_budget=budget, seed=seed, out=str(out),
                               progress=False, overrides=["eval.every_n_epochs=0", *options])
        described = json.loads((out / "encoder.json").read_text())
    metrics = run.metrics
    plan = metrics.get("time_budget", {})
    row = {"date": date.today().isoformat(), "commit": commit(), "machine": f"{platform.node()}, 1 thread", "data": data,
           "method": method, "budget_s": budget, "seed": seed, "limit": limit, "steps": plan.get("steps"), "epochs": plan.get("epochs"),
           "train_seconds": metrics.get("train_seconds"), "seconds": metrics.get("seconds"),
           "pretrained": _kept(metrics["pretrained"]), "random_init": _kept(metrics.get("random_init", {}))}
    if data == "bible_verses":  # testament and genre: linear probes on the same embeddings
        spec = get_modality("text").input_spec_from_dict(described)
        source = load_data(data, modality="text", seed=seed, input_spec=spec, **({"limit": limit} if limit else {}))
        labels = verse_labels(source)
        random_init = build_encoder(described["name"], spec, described.get("kwargs", {}), seed)
        for side, encoder in (("pretrained", run.encoder), ("random_init", random_init)):
            encoder.eval()
            train, test = (embed_split(encoder, source, split).numpy() for split in (source.train, source.test))
            for target in ("testament", "genre"):
                row[side][f"linear_acc_{target}"] = round(linear_accuracy(train, labels[target][0], test,
                                                                          labels[target][1]), 4)
    return row


def _kept(scores: dict[str, Any]) -> dict[str, float]:
    keep = ("knn_acc", "linear_acc", "rankme", "pseudo_perplexity")
    return {k: round(float(v), 4) for k, v in scores.items() if k in keep or k.startswith("verse_")}


def tfidf_baseline(data: str, seed: int = 0, limit: int | None = None) -> dict[str, Any]:
    """TF-IDF + logistic regression on each label; TF-IDF cosine for the verse retrieval."""
    import torch
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from selfsup.data import load_data

    source = load_data(data, modality="text", seed=seed, **({"limit": limit} if limit else {}))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
    train = vectorizer.fit_transform(source.texts_train)
    test = vectorizer.transform(source.texts_test)
    labels = verse_labels(source) if data == "bible_verses" else {
        "category": (source.y_train.numpy(), source.y_test.numpy())}
    row: dict[str, Any] = {"date": date.today().isoformat(), "data": data, "method": "tfidf+logreg", "seed": seed, "limit": limit,
                           "features": train.shape[1]}
    for target, (y_train, y_test) in labels.items():
        model = LogisticRegression(C=10.0, max_iter=2000)
        row[f"linear_acc_{target}"] = round(float(model.fit(train, y_train).score(test, y_test)), 4)
    if data == "bible_verses":
        pairs = source.pairs_test
        if len(pairs) > 5000:  # the same fixed subset the selfsup score uses
            chosen = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(0))[:5000]
            pairs = pairs[chosen.sort().values]
        kjv, web = test[pairs[:, 0].numpy()], test[pairs[:, 1].numpy()]
        for name, (queries, keys) in {"kjv_web": (kjv, web), "web_kjv": (web, kjv)}.items():
            similarity = (queries @ keys.T).toarray()  # rows are unit length: cosine
            own = similarity[np.arange(len(similarity)), np.arange(len(similarity))]
            ranks = (similarity >= own[:, None]).sum(1) - 1  # ties count against the partner
            for k in (1, 10):
                row[f"verse_r@{k}_{name}"] = round(float((ranks < k).mean()), 4)
    return row


def commit() -> str:
    """The repository's commit, recorded with every row."""
    import subprocess

    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent)
    return done.stdout.strip() or "unknown"


def table() -> str:
    # rows measured before bert took BERT's initialisation (73eefa4) are kept in the file, not shown
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "bert_init" not in r]
    out = []
    for data in DATASETS:
        mine = [r for r in rows if r["data"] == data]
        if not mine:
            continue
        bible = data == "bible_verses"
        head = ("| method | steps | linear (book) | random init | linear (genre) | random init | kNN (book) | "
                "R@1 KJV→WEB | random init | R@10 KJV→WEB | R@1 WEB→KJV |" if bible else
                "| method | steps | linear (category) | random init | kNN | random init | pseudo-perplexity |")
        out += [f"\n### {data}\n", head, "|" + "|".join(["---"] + ["---:"] * (head.count("|") - 2)) + "|"]
        for r in mine:
            if r["method"] == "tfidf+logreg":
                continue
            p, q = r["pretrained"], r["random_init"]
            f = lambda d, k: f"{d[k]:.3f}" if k in d else "–"
            if bible:
                out.append(f"| {r['method']} | {r['steps']} | {f(p, 'linear_acc')} | {f(q, 'linear_acc')} | "
                           f"{f(p, 'linear_acc_genre')} | {f(q, 'linear_acc_genre')} | {f(p, 'knn_acc')} | "
                           f"{f(p, 'verse_r@1_kjv_web')} | {f(q, 'verse_r@1_kjv_web')} | {f(p, 'verse_r@10_kjv_web')} | "
                           f"{f(p, 'verse_r@1_web_kjv')} |")
            else:
                out.append(f"| {r['method']} | {r['steps']} | {f(p, 'linear_acc')} | {f(q, 'linear_acc')} | "
                           f"{f(p, 'knn_acc')} | {f(q, 'knn_acc')} | {f(p, 'pseudo_perplexity')} |")
        for r in mine:
            if r["method"] == "tfidf+logreg":
                f = lambda k: f"{r[k]:.3f}" if k in r else "–"
                if bible:
                    out.append(f"| TF-IDF + logistic regression | | {f('linear_acc_book')} | | {f('linear_acc_genre')} | "
                               f"| | {f('verse_r@1_kjv_web')} | | {f('verse_r@10_kjv_web')} | {f('verse_r@1_web_kjv')} |")
                else:
                    out.append(f"| TF-IDF + logistic regression | | {f('linear_acc_category')} | | | | |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", default=DATASETS)
    parser.add_argument("--methods", nargs="*", default=METHODS)
    parser.add_argument("--budget", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--bible-limit", type=int, default=None,
                        help="bible_verses: a fixed subset of this many verses (data.options.limit)")
    parser.add_argument("--baseline", action="store_true", help="the TF-IDF baseline only")
    parser.add_argument("--no-baseline", action="store_true", help="the methods only")
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    if args.table:
        print(table())
        return
    limit = lambda data: args.bible_limit if data == "bible_verses" else None
    jobs = [] if args.no_baseline else [("tfidf_baseline", data, args.seed, limit(data)) for data in args.data]
    if not args.baseline:
        jobs += [("pretrain_one", data, method, args.budget, args.seed, limit(data))
                 for data in args.data for method in args.methods]

    def one(job: tuple) -> dict[str, Any]:
        row = call_isolated("text_methods", job[0], *job[1:])
        with RESULTS.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
        return row

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(one, jobs))


if __name__ == "__main__":
    main()

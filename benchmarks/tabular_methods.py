"""Tabular methods with few labels: Adult and LetterRecognition, 1 %, 10 % and 100 % of the labels.

    OMP_NUM_THREADS=1 python benchmarks/tabular_methods.py                 # every method, both sets
    OMP_NUM_THREADS=1 python benchmarks/tabular_methods.py --data adult --methods scarf tjepa

Each method pretrains through the public API (``selfsup.pretrain``) with its registered defaults
(encoder, views) for a few epochs (``--epochs``; by default 10 on adult and 20 on letter, tjepa 3
and 6, far fewer than the papers'; VICReg's projector is 3 x 512 instead of 3 x 2048), so the
whole script stays within about 20 minutes of one CPU thread. Then, for each labeled fraction (a
seeded stratified subset of the training split; the test split is always whole), on the frozen
embeddings of the pretrained encoder and of the same encoder at its random initialisation:

- ``linear``: the library's linear probe (standardised logistic regression);
- ``mlp``: a small MLP (one hidden layer of 256, ReLU, dropout 0.1, Adam), early-stopped on a
  stratified 20 % of the labeled rows;
- ``lgbm+emb``: LightGBM on the raw columns plus the embeddings (same early stopping).

Baselines on the raw table (no encoder): the same MLP trained from scratch on the raw features
(standardised numbers, missing flags, one-hot categories) and LightGBM on the raw columns
(numbers with NaN for missing, categories as LightGBM categorical features). LightGBM is a
benchmark-only dependency (``pip install lightgbm``); the library never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import selfsup
from selfsup.assembly import build_encoder
from selfsup.data import load_data
from selfsup.eval import embed_loader
from selfsup.eval.linear import linear_probe

METHODS = ["scarf", "vime", "subtab", "tjepa", "simclr", "vicreg"]
EPOCHS = {"adult": 10, "letter": 20}  # the papers train for hundreds; see the module doc
# tjepa's transformer costs ~5x an MLP epoch on one thread
METHOD_EPOCHS = {"tjepa": {"adult": 3, "letter": 6}}
# VICReg's 3 x 2048 projector is ~20x SCARF's step on one thread: 3 x 512 here
METHOD_OVERRIDES = {"vicreg": ["method.projector_hidden_dim=512", "method.projector_dim=512"]}
FRACTIONS = (0.01, 0.1, 1.0)


def label_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a seeded stratified ``fraction`` of the rows (all rows at 1.0)."""
    from sklearn.model_selection import train_test_split

    if fraction >= 1.0:
        return np.arange(len(y))
    kept, _ = train_test_split(np.arange(len(y)), train_size=fraction, stratify=y, random_state=seed)
    return np.sort(kept)


def validation_split(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """80 / 20 split of the labeled rows for early stopping (stratified when every class can be)."""
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 and int(0.2 * len(y)) >= (counts > 0).sum() else None
    return train_test_split(np.arange(len(y)), test_size=0.2, stratify=stratify, random_state=seed)


def mlp_accuracy(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int,
                 max_steps: int = 3000, batch: int = 256) -> float:
    """The small MLP of the module doc: test accuracy at the step of best validation accuracy."""
    torch.manual_seed(seed)
    fit, val = validation_split(y, seed)
    mean, std = x[fit].mean(0), x[fit].std(0) + 1e-6
    xs = torch.from_numpy((x - mean) / std).float()
    xt = torch.from_numpy((x_test - mean) / std).float()
    yt = torch.from_numpy(y).long()
    classes = int(max(y.max(), y_test.max())) + 1
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                                torch.nn.Linear(256, classes))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    generator = torch.Generator().manual_seed(seed)
    fit_t, val_t = torch.from_numpy(fit), torch.from_numpy(val)
    best, best_state, patience = -1.0, None, 0
    for step in range(max_steps):
        model.train()
        rows = fit_t[torch.randint(0, len(fit_t), (min(batch, len(fit_t)),), generator=generator)]
        loss = torch.nn.functional.cross_entropy(model(xs[rows]), yt[rows])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 99:
            model.eval()
            with torch.no_grad():
                accuracy = float((model(xs[val_t]).argmax(1) == yt[val_t]).float().mean())
            if accuracy > best:
                best, best_state, patience = accuracy, {k: v.clone() for k, v in model.state_dict().items()}, 0
            elif (patience := patience + 1) >= 5:
                break
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        return float((model(xt).argmax(1).numpy() == y_test).mean())


def lightgbm_accuracy(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                      categorical: list[int], seed: int) -> float:
    """LightGBM (default leaves, lr 0.1, up to 400 rounds early-stopped on the validation rows)."""
    import lightgbm

    fit, val = validation_split(y, seed)
    model = lightgbm.LGBMClassifier(n_estimators=400, learning_rate=0.1, num_threads=1, verbose=-1,
                                    random_state=seed, min_child_samples=min(20, max(2, len(fit) // 50)))
    model.fit(x[fit], y[fit], eval_X=(x[val],), eval_y=(y[val],), categorical_feature=categorical or "auto",
              callbacks=[lightgbm.early_stopping(30, verbose=False)])
    return float((model.predict(x_test) == y_test).mean())


def raw_columns(table) -> tuple[np.ndarray, list[int]]:
    """LightGBM's view of the table: numbers (NaN where missing), then category codes."""
    numeric = table.numeric.numpy().astype(np.float64)
    numeric[table.missing.numpy()] = np.nan
    columns = np.concatenate([numeric, table.categorical.numpy().astype(np.float64)], axis=1)
    return columns, list(range(numeric.shape[1], columns.shape[1]))


def raw_mlp_features(table) -> np.ndarray:
    return torch.cat([table.raw_features(), table.missing.float()], dim=1).numpy()


def embeddings(encoder: torch.nn.Module, source) -> tuple[np.ndarray, np.ndarray]:
    return tuple(embed_loader(encoder, source.loader(split, 1024)).numpy() for split in (source.train, source.test))


def evaluate_encoder(train_emb, test_emb, data, subsets, seed) -> dict[str, dict[float, float]]:
    raw_train, raw_test, categorical, y, y_test = data
    scores: dict[str, dict[float, float]] = {"linear": {}, "mlp": {}, "lgbm+emb": {}}
    for fraction, rows in subsets.items():
        scores["linear"][fraction] = linear_probe(train_emb[rows], y[rows], test_emb, y_test, max_iter=300)["accuracy"]
        scores["mlp"][fraction] = mlp_accuracy(train_emb[rows], y[rows], test_emb, y_test, seed)
        both_train = np.concatenate([raw_train[rows], train_emb[rows]], axis=1)
        both_test = np.concatenate([raw_test, test_emb], axis=1)
        scores["lgbm+emb"][fraction] = lightgbm_accuracy(both_train, y[rows], both_test, y_test, categorical, seed)
    return scores


def run_data(data: str, methods: list[str], epochs: int | None, seed: int, work: Path) -> list[dict]:
    source = load_data(data, seed=seed)
    y, y_test = source.y_train.numpy(), source.y_test.numpy()
    raw_train, categorical = raw_columns(source.train.table)
    raw_test, _ = raw_columns(source.test.table)
    subsets = {f: label_subset(y, f, seed) for f in FRACTIONS}
    packed = (raw_train, raw_test, categorical, y, y_test)
    rows = []
    mlp_raw_train, mlp_raw_test = raw_mlp_features(source.train.table), raw_mlp_features(source.test.table)
    rows.append({"data": data, "model": "raw table", "seconds": 0.0, "scores": {
        "mlp": {f: mlp_accuracy(mlp_raw_train[r], y[r], mlp_raw_test, y_test, seed) for f, r in subsets.items()},
        "lgbm": {f: lightgbm_accuracy(raw_train[r], y[r], raw_test, y_test, categorical, seed)
                 for f, r in subsets.items()}}})
    print(json.dumps(rows[-1]), flush=True)
    random_done: set[str] = set()
    for method in methods:
        start = time.perf_counter()
        method_epochs = epochs or METHOD_EPOCHS.get(method, EPOCHS).get(data, 10)
        result = selfsup.pretrain(method=method, data=data, epochs=method_epochs, seed=seed,
                                  out=str(work / f"{data}-{method}"), progress=False,
                                  overrides=["eval.every_n_epochs=0", "eval.max_train_samples=4000",
                                             "eval.random_init=false", *METHOD_OVERRIDES.get(method, [])])
        pretrain_seconds = time.perf_counter() - start
        spec = json.loads((result.run_dir / "encoder.json").read_text())
        encoder_key = f"{spec['name']} {json.dumps(spec.get('kwargs', {}), sort_keys=True)}"
        encoder_label = spec["name"] + (" flattened" if spec.get("kwargs", {}).get("pool") == "flatten" else "")
        if encoder_key not in random_done:  # methods sharing an encoder share its random init
            random_done.add(encoder_key)
            random_init = build_encoder(spec["name"], source.input_spec, spec.get("kwargs", {}), seed)
            rows.append({"data": data, "model": f"random-init {encoder_label}", "seconds": 0.0,
                         "scores": evaluate_encoder(*embeddings(random_init, source), packed, subsets, seed)})
            print(json.dumps(rows[-1]), flush=True)
        rows.append({"data": data, "model": f"{method} ({encoder_label}, {method_epochs} ep)", "seconds": pretrain_seconds,
                     "scores": evaluate_encoder(*embeddings(result.encoder, source), packed, subsets, seed)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    columns = [(m, f) for m in ("linear", "mlp", "lgbm+emb", "lgbm") for f in FRACTIONS]
    head = "| data | encoder / model | pretrain s | " + " | ".join(
        f"{m} {f:.0%}" for m, f in columns) + " |"
    lines = [head, "|" + "---|" * (3 + len(columns))]
    for row in rows:
        cells = []
        for model, fraction in columns:
            value = row["scores"].get(model, {}).get(fraction, row["scores"].get(model, {}).get(str(fraction)))
            cells.append("" if value is None else f"{value:.3f}")
        lines.append(f"| {row['data']} | {row['model']} | {row['seconds']:.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["adult", "letter"])
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--epochs", type=int, default=None, help="pretraining epochs (default: per data set and method)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--flatten-tokens", action="store_true",
                        help="token encoders (tjepa's ft_transformer) give their tokens flattened, as T-JEPA's "
                        "evaluation reads them, instead of their mean")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON lines here")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    start, rows = time.perf_counter(), []
    with tempfile.TemporaryDirectory() as work:
        for data in args.data:
            if args.flatten_tokens:
                METHOD_OVERRIDES["tjepa"] = ["encoder.name=ft_transformer", "encoder.pool=flatten"]
            rows += run_data(data, args.methods, args.epochs, args.seed, Path(work))
    if args.json:
        args.json.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(markdown(rows))
    print(f"\n{time.perf_counter() - start:.0f} s in all; accuracy on the whole test split; "
          f"label fractions of the training split (seed {args.seed}).")


if __name__ == "__main__":
    main()

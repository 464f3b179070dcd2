"""Evaluation protocols a modality's papers prescribe, run beside the default probes.

The default probes fit on the source's train split and score its test split. Some fields report
their numbers under a protocol of their own, over *all* labelled samples, and a user comparing
with a paper needs that number:

- ``fixed_split`` — node classification on a graph that ships its split (Planetoid: Yang et al.
  2016, 20 labelled nodes per class, 500 validation, 1,000 test; the protocol of DGI, GRACE,
  MVGRL and GraphMAE): the logistic-regression probe fits on the given training nodes only, its
  ``C`` chosen on the validation nodes; keys ``planetoid_acc`` / ``planetoid_f1``.
- ``random_splits`` — node classification without a given split (GRACE, Zhu et al. 2020, and
  BGRL, Thakoor et al. 2022, on Amazon/Coauthor): ``splits`` random 10 % / 10 % / 80 %
  train / validation / test splits of the labelled nodes, ``C`` chosen on each validation part;
  keys ``split_acc`` (mean), ``split_acc_std``, ``split_f1``.
- ``svm_cv`` — graph classification (InfoGraph, Sun et al. 2020, §4.2; GraphCL, You et al. 2020):
  10-fold stratified cross-validation of an RBF SVM on the graph embeddings, its ``C`` chosen
  from ``{1e-3, …, 1e3}`` by an inner 5-fold cross-validation on each training part; keys
  ``svm_cv_acc`` (mean over folds), ``svm_cv_acc_std``.

Samples are the train split followed by the test split (the order the engine embeds them in).
Past ``max_samples`` labelled samples a seeded stratified subset is used, so the protocol's cost
stays bounded on a graph of millions of nodes (said in ``describe``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from selfsup.errors import SelfsupError
from selfsup.eval.linear import probe_inputs

KINDS = ("fixed_split", "random_splits", "svm_cv")
#: the logistic-regression penalties the validation part chooses from
LINEAR_C_GRID = (0.01, 0.1, 1.0, 10.0)
#: the SVM penalties of InfoGraph's protocol
SVM_CV_C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3)


@dataclass(frozen=True)
class ProbeProtocol:
    """How to score embeddings of all labelled samples (see the module docstring).

    Attributes:
        kind: ``fixed_split``, ``random_splits`` or ``svm_cv``.
        train: ``fixed_split`` only: positions (in the train split) of the probe's training samples.
        val: ``fixed_split`` only: positions (in the train split) of the validation samples that
            choose ``C``; None fits ``C = 1``.
        splits: ``random_splits``: how many random splits.
        fractions: ``random_splits``: train and validation fractions (the rest is test).
        folds: ``svm_cv``: outer cross-validation folds.
        max_samples: at most this many labelled samples (``random_splits``, ``svm_cv``).
        seed: seed of the splits, folds and subsample.
    """

    kind: str
    train: np.ndarray | None = None
    val: np.ndarray | None = None
    splits: int = 10
    fractions: tuple[float, float] = (0.1, 0.1)
    folds: int = 10
    max_samples: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise SelfsupError(f"Unknown evaluation protocol {self.kind!r}; one of {', '.join(KINDS)}.")
        if self.kind == "fixed_split" and (self.train is None or len(self.train) == 0):
            raise SelfsupError("The fixed-split protocol needs the positions of its training samples.")

    def describe(self) -> str:
        """One line for the run's notes: what the protocol's numbers mean."""
        if self.kind == "fixed_split":
            val = f", C chosen on {len(self.val)} validation samples" if self.val is not None else ""
            return (f"planetoid_acc: logistic regression fitted on the {len(self.train)} given training "
                    f"samples only{val}, scored on the test split")
        cap = f" (a seeded subset of at most {self.max_samples:,} labelled samples)"
        if self.kind == "random_splits":
            train, val = (round(100 * f) for f in self.fractions)
            return (f"split_acc: mean ± std over {self.splits} random {train}/{val}/{100 - train - val} % "
                    f"train/validation/test splits of the labelled samples{cap}, C chosen on validation")
        return (f"svm_cv_acc: mean ± std over {self.folds}-fold cross-validation of an RBF SVM on all "
                f"labelled samples{cap}, C by inner 5-fold cross-validation (InfoGraph protocol)")


def protocol_scores(
    protocol: ProbeProtocol, train_emb: Any, train_y: Any, test_emb: Any, test_y: Any
) -> dict[str, float]:
    """The protocol's scores (keys prefixed ``planetoid_``, ``split_`` or ``svm_cv_``)."""
    train, y_train, test, y_test = probe_inputs(train_emb, train_y, test_emb, test_y)
    if protocol.kind == "fixed_split":
        fit, val = train[protocol.train], protocol.val
        c = 1.0 if val is None else _best_c(fit, y_train[protocol.train], train[val], y_train[val])
        accuracy, f1 = _logistic(fit, y_train[protocol.train], test, y_test, c)
        return {"planetoid_acc": accuracy, "planetoid_f1": f1}
    x = np.concatenate([train, test])
    y = np.concatenate([y_train, y_test])
    keep = _subset(y, protocol.max_samples, protocol.seed)
    x, y = x[keep], y[keep]
    if protocol.kind == "random_splits":
        return _random_splits(protocol, x, y)
    return _svm_cv(protocol, x, y)


def _subset(y: np.ndarray, size: int, seed: int) -> np.ndarray:
    if len(y) <= size:
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(y)), train_size=size, random_state=seed, stratify=_stratify(y))
    return np.sort(keep)


def _smallest_class(y: np.ndarray) -> int:
    counts = np.bincount(y)
    return int(counts[counts > 0].min())


def _stratify(y: np.ndarray) -> np.ndarray | None:
    """``y`` when every class has 2 samples or more (scikit-learn's condition), else None."""
    return y if _smallest_class(y) >= 2 else None


def _logistic(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
              c: float) -> tuple[float, float]:
    from selfsup.eval.linear import linear_probe

    scores = linear_probe(train, y_train, test, y_test, C=c)
    return scores["accuracy"], scores["macro_f1"]


def _best_c(train: np.ndarray, y_train: np.ndarray, val: np.ndarray, y_val: np.ndarray) -> float:
    """The grid's ``C`` with the best validation accuracy (the smallest on a tie)."""
    scores = [_logistic(train, y_train, val, y_val, c)[0] for c in LINEAR_C_GRID]
    return LINEAR_C_GRID[int(np.argmax(scores))]


def _random_splits(protocol: ProbeProtocol, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    n = len(y)
    n_train = max(1, round(protocol.fractions[0] * n))
    n_val = max(1, round(protocol.fractions[1] * n))
    if n_train + n_val >= n:
        raise SelfsupError(f"{n} labelled samples are too few for {protocol.splits} random "
                           f"train/validation/test splits.")
    rng = np.random.default_rng(protocol.seed)
    accuracies, f1s = [], []
    for _ in range(protocol.splits):
        order = rng.permutation(n)
        fit, val, test = order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
        c = _best_c(x[fit], y[fit], x[val], y[val])
        accuracy, f1 = _logistic(x[fit], y[fit], x[test], y[test], c)
        accuracies.append(accuracy)
        f1s.append(f1)
    return {"split_acc": float(np.mean(accuracies)), "split_acc_std": float(np.std(accuracies)),
            "split_f1": float(np.mean(f1s))}


def _svm_cv(protocol: ProbeProtocol, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    from selfsup.eval.svm import SVM_MAX_ITER

    smallest = _smallest_class(y)
    folds = min(protocol.folds, smallest)
    if folds < 2:
        raise SelfsupError("Cross-validation needs 2 labelled samples of every class or more; "
                           f"a class has {smallest}.")
    outer = StratifiedKFold(n_splits=folds, shuffle=True, random_state=protocol.seed)
    accuracies = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        for fit, test in outer.split(x, y):
            inner = min(5, _smallest_class(y[fit]))
            svm = SVC(max_iter=SVM_MAX_ITER)
            if inner >= 2:
                svm = GridSearchCV(svm, {"C": list(SVM_CV_C_GRID)}, cv=inner)
            svm.fit(x[fit], y[fit])
            accuracies.append(float(np.mean(svm.predict(x[test]) == y[test])))
    return {"svm_cv_acc": float(np.mean(accuracies)), "svm_cv_acc_std": float(np.std(accuracies))}


def as_positions(ids: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Positions in the sorted id array ``among`` of each of ``ids`` (all must be present)."""
    positions = np.searchsorted(among, ids)
    if np.any(positions >= len(among)) or np.any(among[np.minimum(positions, len(among) - 1)] != ids):
        raise SelfsupError("The protocol's samples must all be in the train split.")
    return positions


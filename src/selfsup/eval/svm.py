"""The SVM probe of TS2Vec's classification protocol.

Yue et al. 2022 ("TS2Vec: Towards Universal Representation of Time Series", Section 4.1)
evaluate a frozen encoder on UCR/UEA classification by fitting an SVM with an RBF kernel on the
instance-level embeddings of the train split and reporting accuracy on the test split; the
penalty ``C`` is chosen by cross-validation on the train split over
``{1e-4, 1e-3, …, 1e4, inf}``. The published accuracies of TS2Vec, T-Loss and TS-TCC that the
time-series benchmark compares against were all measured this way, so the probe follows the
protocol as the paper's released evaluation runs it:

- ``gamma = "scale"`` (``1 / (D * var(X))``), one-vs-rest decision function;
- 5-fold stratified cross-validation for ``C`` — *except* when the train split is too small
  for it (fewer than 5 samples per class on average, or fewer than 50 samples), where the
  hard-margin ``C = inf`` SVM is fitted directly;
- at most 10,000 training samples (a seeded stratified subset beyond that);
- at most ``SVM_MAX_ITER`` solver iterations: a hard-margin SVM on classes that no boundary
  separates (embeddings of an encoder that learned nothing, identical inputs) never converges,
  and without a bound the probe would run forever.

Unlike the linear probe, the embeddings are *not* standardised (the protocol does not).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from selfsup.eval.linear import probe_inputs

#: the penalties the cross-validation chooses from (TS2Vec's grid)
SVM_C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4, math.inf)
#: the solver's iteration bound (libsvm's default is none)
SVM_MAX_ITER = 1_000_000


def svm_probe(
    train_emb: Any,
    train_y: Any,
    test_emb: Any,
    test_y: Any,
    folds: int = 5,
    max_train: int = 10_000,
    seed: int = 0,
) -> dict[str, float]:
    """Fit an RBF SVM on train embeddings (``C`` by cross-validation) and score it on test.

    Args:
        train_emb: ``[N, D]`` training embeddings (numpy or torch).
        train_y: ``[N]`` integer training labels.
        test_emb: ``[M, D]`` test embeddings.
        test_y: ``[M]`` integer test labels.
        folds: cross-validation folds for choosing ``C``.
        max_train: larger train splits are subsampled (stratified, seeded) to this size.
        seed: seed of that subsample and of the fold assignment.

    Returns:
        ``{"accuracy", "macro_f1", "C"}`` (``C`` is ``inf`` for the hard-margin fit).

    Example:
        >>> import numpy as np
        >>> x = np.array([[0.0, 0.0], [0.1, 0.0], [3.0, 3.0], [3.1, 3.0]])
        >>> svm_probe(x, [0, 0, 1, 1], x, [0, 0, 1, 1])["accuracy"]
        1.0
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
    from sklearn.svm import SVC

    train, y_train, test, y_test = probe_inputs(train_emb, train_y, test_emb, test_y)
    classes, counts = np.unique(y_train, return_counts=True)
    if classes.size == 1:
        predicted, chosen_c = np.full_like(y_test, classes[0]), math.inf
    else:
        if train.shape[0] > max_train:
            train, _, y_train, _ = train_test_split(
                train, y_train, train_size=max_train, stratify=y_train, random_state=seed
            )
            counts = np.unique(y_train, return_counts=True)[1]
        svm = SVC(C=math.inf, kernel="rbf", gamma="scale", max_iter=SVM_MAX_ITER)
        small = train.shape[0] // classes.size < folds or train.shape[0] < 50
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if small or counts.min() < 2:
                model = svm.fit(train, y_train)
            else:
                # a class with fewer members than folds gets fewer folds than asked for
                splits = StratifiedKFold(
                    n_splits=min(folds, int(counts.min())), shuffle=True, random_state=seed
                )
                search = GridSearchCV(svm, {"C": list(SVM_C_GRID)}, cv=splits, n_jobs=1)
                model = search.fit(train, y_train).best_estimator_
        predicted, chosen_c = model.predict(test), float(model.C)
    return {
        "accuracy": float(np.mean(predicted == y_test)),
        "macro_f1": float(f1_score(y_test, predicted, average="macro", zero_division=0)),
        "C": chosen_c,
    }

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
- the cross-validation that chooses ``C`` runs on at most ``cv_max`` of them (a seeded
  stratified subset; the chosen ``C`` is then fitted on all of them). The paper's evaluation
  cross-validates on all 10,000; with ``cv_max`` 10,000 this probe does too. The default of
  1,000 leaves every UCR set with fewer training series unchanged, and bounds the cost on
  larger ones: 51 kernel-SVM fits on 3,000 embeddings took 2.2 s each (406 s of a 442 s run,
  benchmarks/RESULTS.md, "Evaluation that scales");
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

from selfsup.eval.linear import probe_inputs, stratified_subset

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
    cv_max: int = 1_000,
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
        cv_max: the cross-validation for ``C`` uses at most this many of the training samples.

    Returns:
        ``{"accuracy", "macro_f1", "C", "cv_samples"}`` (``C`` is ``inf`` for the hard-margin
        fit; ``cv_samples`` is how many samples chose it, 0 when none did).

    Example:
        >>> import numpy as np
        >>> x = np.array([[0.0, 0.0], [0.1, 0.0], [3.0, 3.0], [3.1, 3.0]])
        >>> svm_probe(x, [0, 0, 1, 1], x, [0, 0, 1, 1])["accuracy"]
        1.0
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    train, y_train, test, y_test = probe_inputs(train_emb, train_y, test_emb, test_y)
    cv_samples = 0
    classes, counts = np.unique(y_train, return_counts=True)
    if classes.size == 1:
        predicted, chosen_c = np.full_like(y_test, classes[0]), math.inf
    else:
        if train.shape[0] > max_train:
            train, y_train = stratified_subset(train, y_train, max_train, seed)
            counts = np.unique(y_train, return_counts=True)[1]
        svm = SVC(C=math.inf, kernel="rbf", gamma="scale", max_iter=SVM_MAX_ITER)
        small = train.shape[0] // classes.size < folds or train.shape[0] < 50
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if small or counts.min() < 2:
                model = svm.fit(train, y_train)
            else:
                cv_x, cv_y = train, y_train
                if train.shape[0] > cv_max:
                    cv_x, cv_y = stratified_subset(train, y_train, cv_max, seed)
                cv_counts = np.unique(cv_y, return_counts=True)[1]
                if cv_counts.size < classes.size or cv_counts.min() < 2:  # a rare class lost
                    cv_x, cv_y, cv_counts = train, y_train, counts
                cv_samples = cv_x.shape[0]
                # a class with fewer members than folds gets fewer folds than asked for
                splits = StratifiedKFold(n_splits=min(folds, int(cv_counts.min())), shuffle=True, random_state=seed)
                search = GridSearchCV(svm, {"C": list(SVM_C_GRID)}, cv=splits, n_jobs=1, refit=False)
                model = svm.set_params(C=search.fit(cv_x, cv_y).best_params_["C"]).fit(train, y_train)
        predicted, chosen_c = model.predict(test), float(model.C)
    return {
        "accuracy": float(np.mean(predicted == y_test)),
        "macro_f1": float(f1_score(y_test, predicted, average="macro", zero_division=0)),
        "C": chosen_c,
        "cv_samples": float(cv_samples),
    }


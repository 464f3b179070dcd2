"""Linear probe: a logistic-regression classifier trained on frozen embeddings.

The linear evaluation protocol of Zhang et al. 2016 ("Colorful Image Colorization") and
Oord et al. 2018 (CPC): the encoder is frozen and only a linear classifier is fitted on its
embeddings. Like SimCLR's transfer evaluation (Chen et al. 2020), we fit an L2-regularised
multinomial logistic regression with L-BFGS rather than SGD, which needs no tuning. We
standardise each dimension with the training set's mean and std first, because SSL
embeddings have wildly different scales per method and L-BFGS converges poorly on badly
scaled inputs.

The fit is deterministic (L-BFGS, no random initialisation, fixed ``random_state``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from selfsup.errors import SelfsupError
from selfsup.eval.knn import as_embeddings, as_labels


def probe_inputs(train_emb: Any, train_y: Any, test_emb: Any, test_y: Any) -> tuple[np.ndarray, ...]:
    """``(train [N, D], y_train [N], test [M, D], y_test [M])`` as float64 / int numpy arrays,
    or one SelfsupError naming the argument that is wrong (shared by the linear and SVM probes)."""
    train = as_embeddings(train_emb, "train_emb").cpu().double().numpy()
    test = as_embeddings(test_emb, "test_emb").cpu().double().numpy()
    y_train = as_labels(train_y, "train_y", train.shape[0]).numpy()
    y_test = as_labels(test_y, "test_y", test.shape[0]).numpy()
    if test.shape[1] != train.shape[1]:
        raise SelfsupError(
            f"test_emb has {test.shape[1]} dimensions but train_emb has {train.shape[1]}; "
            "both must come from the same encoder."
        )
    return train, y_train, test, y_test


def linear_probe(
    train_emb: Any,
    train_y: Any,
    test_emb: Any,
    test_y: Any,
    C: float = 1.0,
    max_iter: int = 1000,
    max_train: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Fit a standardised logistic regression on train embeddings; score it on test.

    Args:
        train_emb: ``[N, D]`` training embeddings (numpy or torch).
        train_y: ``[N]`` integer training labels.
        test_emb: ``[M, D]`` test embeddings.
        test_y: ``[M]`` integer test labels.
        C: inverse L2 regularisation strength of the logistic regression.
        max_iter: L-BFGS iteration cap. A probe that stops at the cap still yields a valid
            (slightly pessimistic) score, so the convergence warning is silenced.
        max_train: fit on a seeded stratified subset of at most this many training samples
            (None: all). L-BFGS on 60,000 Fashion-MNIST embeddings took most of a short run's
            evaluation (benchmarks/RESULTS.md, "Evaluation that scales").
        seed: seed of that subset.

    Returns:
        ``{"accuracy": float, "macro_f1": float}``. Macro-F1 averages the per-class F1 over
        every class seen in ``test_y`` or predicted, so it exposes a probe that ignores the
        rare classes where accuracy would not.
    """
    # Imported here: scikit-learn takes ~0.7 s to import and most callers never probe.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import StandardScaler

    train, y_train, test, y_test = probe_inputs(train_emb, train_y, test_emb, test_y)
    if max_train is not None and train.shape[0] > max_train:
        train, y_train = stratified_subset(train, y_train, max_train, seed)

    classes = np.unique(y_train)
    if classes.size == 1:
        # LogisticRegression refuses a single class; the only sensible probe predicts it.
        predicted = np.full_like(y_test, classes[0])
    else:
        # StandardScaler leaves zero-variance dimensions at scale 1 (no division by zero), so a
        # dead embedding unit becomes a constant 0 column instead of NaN.
        scaler = StandardScaler().fit(train)
        probe = LogisticRegression(C=C, max_iter=max_iter, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            probe.fit(scaler.transform(train), y_train)
        predicted = probe.predict(scaler.transform(test))

    return {
        "accuracy": float(np.mean(predicted == y_test)),
        "macro_f1": float(f1_score(y_test, predicted, average="macro", zero_division=0)),
    }


def linear_probe_accuracy(
    train_emb: Any,
    train_y: Any,
    test_emb: Any,
    test_y: Any,
    C: float = 1.0,
    max_iter: int = 1000,
) -> float:
    """Test accuracy of the linear probe of :func:`linear_probe` (same arguments), in [0, 1].

    Example:
        >>> import numpy as np
        >>> x = np.array([[0.0, 1.0], [0.2, 1.0], [5.0, 1.0], [5.2, 1.0]])
        >>> linear_probe_accuracy(x, [0, 0, 1, 1], x, [0, 0, 1, 1])
        1.0
    """
    return linear_probe(train_emb, train_y, test_emb, test_y, C=C, max_iter=max_iter)["accuracy"]


def stratified_subset(x: np.ndarray, y: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subset of ``size`` rows with the classes in their proportions (every class with
    at least one row where ``size`` allows it)."""
    from sklearn.model_selection import train_test_split

    try:
        x, _, y, _ = train_test_split(x, y, train_size=size, stratify=y, random_state=seed)
    except ValueError:  # a class with a single member cannot be stratified: a plain random subset
        x, _, y, _ = train_test_split(x, y, train_size=size, random_state=seed)
    return x, y


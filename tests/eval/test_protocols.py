"""The papers' evaluation protocols: each checked against an independent scikit-learn formulation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from selfsup.errors import SelfsupError
from selfsup.eval.protocols import (
    LINEAR_C_GRID,
    SVM_CV_C_GRID,
    ProbeProtocol,
    as_positions,
    protocol_scores,
)


def _blobs(n: int, classes: int = 3, dim: int = 8, noise: float = 1.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = rng.normal(size=(classes, dim)) * 2
    return (centres[y] + noise * rng.normal(size=(n, dim))).astype(np.float32), y


def test_fixed_split_fits_on_the_given_training_samples_only():
    x, y = _blobs(200, noise=0.3)
    train, y_train, test, y_test = x[:150], y[:150].copy(), x[150:], y[150:]
    y_train[30:] = (y_train[30:] + 1) % 3  # every training sample but the given 30 is mislabelled
    given = ProbeProtocol("fixed_split", train=np.arange(30))
    assert protocol_scores(given, train, y_train, test, y_test)["planetoid_acc"] == 1.0
    everything = ProbeProtocol("fixed_split", train=np.arange(150))
    assert protocol_scores(everything, train, y_train, test, y_test)["planetoid_acc"] < 0.5


def test_fixed_split_chooses_c_on_the_validation_samples():
    x, y = _blobs(300, noise=2.0, dim=40)
    train, test = x[:200], x[200:]
    protocol = ProbeProtocol("fixed_split", train=np.arange(20), val=np.arange(20, 200))
    got = protocol_scores(protocol, train, y[:200], test, y[200:])["planetoid_acc"]

    def fit(c: float, at: np.ndarray, labels: np.ndarray) -> float:
        scaler = StandardScaler().fit(x[:20])
        model = LogisticRegression(C=c, max_iter=1000).fit(scaler.transform(x[:20]), y[:20])
        return float(np.mean(model.predict(scaler.transform(at)) == labels))

    best = max(LINEAR_C_GRID, key=lambda c: (fit(c, x[20:200], y[20:200]), -c))
    assert got == pytest.approx(fit(best, x[200:], y[200:]))


def test_random_splits_match_a_by_hand_loop_with_the_same_draws():
    x, y = _blobs(200)
    protocol = ProbeProtocol("random_splits", splits=4, seed=3)
    got = protocol_scores(protocol, x[:150], y[:150], x[150:], y[150:])
    rng = np.random.default_rng(3)
    accuracies = []
    for _ in range(4):
        order = rng.permutation(200)
        fit, val, test = order[:20], order[20:40], order[40:]
        best = LINEAR_C_GRID[int(np.argmax([_logistic(x, y, fit, val, c) for c in LINEAR_C_GRID]))]
        accuracies.append(_logistic(x, y, fit, test, best))
    assert got["split_acc"] == pytest.approx(np.mean(accuracies))
    assert got["split_acc_std"] == pytest.approx(np.std(accuracies))
    assert got["split_acc_std"] > 0


def _logistic(x: np.ndarray, y: np.ndarray, fit: np.ndarray, rows: np.ndarray, c: float) -> float:
    scaler = StandardScaler().fit(x[fit])
    model = LogisticRegression(C=c, max_iter=1000).fit(scaler.transform(x[fit]), y[fit])
    return float(np.mean(model.predict(scaler.transform(x[rows])) == y[rows]))


def test_svm_cv_matches_scikit_learns_nested_cross_validation():
    x, y = _blobs(120, noise=2.0)
    got = protocol_scores(ProbeProtocol("svm_cv", seed=1), x[:90], y[:90], x[90:], y[90:])
    search = GridSearchCV(SVC(), {"C": list(SVM_CV_C_GRID)}, cv=5)
    folds = StratifiedKFold(n_splits=10, shuffle=True, random_state=1)
    expected = cross_val_score(search, x.astype(np.float64), y, cv=folds)
    assert got["svm_cv_acc"] == pytest.approx(expected.mean())
    assert got["svm_cv_acc_std"] == pytest.approx(expected.std())


def test_a_cap_on_samples_keeps_every_class():
    x, y = _blobs(400, classes=4)
    got = protocol_scores(ProbeProtocol("random_splits", splits=2, max_samples=60), x[:300], y[:300], x[300:], y[300:])
    assert 0 <= got["split_acc"] <= 1


def test_errors_are_one_clear_line():
    x, y = _blobs(6)
    with pytest.raises(SelfsupError, match="too few"):
        protocol_scores(ProbeProtocol("random_splits", fractions=(0.5, 0.5)), x[:4], y[:4], x[4:], y[4:])
    with pytest.raises(SelfsupError, match="Unknown evaluation protocol"):
        ProbeProtocol("loo")
    with pytest.raises(SelfsupError, match="training samples"):
        ProbeProtocol("fixed_split")
    with pytest.raises(SelfsupError, match="train split"):
        as_positions(np.array([3, 9]), np.array([1, 3, 5]))
    np.testing.assert_array_equal(as_positions(np.array([5, 1]), np.array([1, 3, 5])), [2, 0])

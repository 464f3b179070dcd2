"""Weighted kNN (Wu et al. 2018) against a brute-force reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.eval import knn_accuracy, knn_predict


def brute_force_knn(train, train_y, test, k, temperature):
    """Independent reference: Python loops over numpy rows."""
    predictions = []
    train_unit = [row / np.linalg.norm(row) for row in train]
    for query in test:
        query = query / np.linalg.norm(query)
        sims = [float(np.dot(query, row)) for row in train_unit]
        order = sorted(range(len(sims)), key=lambda i: -sims[i])[:k]
        votes: dict[int, float] = {}
        for i in order:
            label = int(train_y[i])
            votes[label] = votes.get(label, 0.0) + math.exp(sims[i] / temperature)
        predictions.append(max(votes, key=votes.get))
    return np.array(predictions)


def separated_clusters(n_per_class=30, dim=8, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:classes] * 10
    x = np.concatenate([c + rng.normal(scale=0.3, size=(n_per_class, dim)) for c in centres])
    y = np.repeat(np.arange(classes), n_per_class)
    return x.astype(np.float32), y


def test_knn_is_perfect_on_separated_clusters():
    x, y = separated_clusters()
    x_test, y_test = separated_clusters(seed=1)
    assert knn_accuracy(x, y, x_test, y_test) == 1.0


@pytest.mark.parametrize("k,temperature", [(1, 0.07), (5, 0.07), (15, 0.5)])
def test_knn_matches_brute_force_on_random_data(k, temperature):
    rng = np.random.default_rng(k)
    train = rng.normal(size=(120, 6))
    train_y = rng.integers(0, 4, size=120)
    test = rng.normal(size=(40, 6))
    expected = brute_force_knn(train, train_y, test, k, temperature)
    predicted = knn_predict(train, train_y, test, k=k, temperature=temperature).numpy()
    np.testing.assert_array_equal(predicted, expected)
    test_y = rng.integers(0, 4, size=40)
    assert knn_accuracy(train, train_y, test, test_y, k, temperature) == pytest.approx(
        float(np.mean(expected == test_y))
    )


def test_knn_chunking_does_not_change_predictions():
    rng = np.random.default_rng(0)
    train, train_y = rng.normal(size=(50, 5)), rng.integers(0, 3, 50)
    test = rng.normal(size=(23, 5))
    whole = knn_predict(train, train_y, test, k=7)
    chunked = knn_predict(train, train_y, test, k=7, chunk_size=4)
    torch.testing.assert_close(whole, chunked)


def test_knn_with_k_larger_than_train_set_uses_all_samples():
    x, y = separated_clusters(n_per_class=3, classes=2)
    # 6 training samples, k=100: every sample votes, the nearer cluster still wins on weight.
    assert knn_accuracy(x, y, x, y, k=100) == 1.0
    expected = brute_force_knn(x, y, x, 6, 0.07)
    np.testing.assert_array_equal(knn_predict(x, y, x, k=100).numpy(), expected)


def test_knn_accepts_torch_and_keeps_original_label_values():
    x, y = separated_clusters(classes=2)
    labels = torch.as_tensor(np.where(y == 0, 7, 42))
    predicted = knn_predict(torch.as_tensor(x), labels, torch.as_tensor(x))
    assert set(predicted.tolist()) == {7, 42}
    assert knn_accuracy(torch.as_tensor(x), labels, torch.as_tensor(x), labels) == 1.0


def test_knn_rejects_mismatched_or_non_finite_inputs():
    x, y = separated_clusters()
    with pytest.raises(SelfsupError, match="dimensions"):
        knn_accuracy(x, y, x[:, :3], y)
    with pytest.raises(SelfsupError, match="labels"):
        knn_accuracy(x, y[:-1], x, y)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(SelfsupError, match="NaN"):
        knn_accuracy(bad, y, x, y)

"""Linear probe on standardised embeddings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from selfsup.eval import linear_probe, linear_probe_accuracy


def linearly_separable(n=200, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    x[:, 0] += np.where(y == 1, 2.0, -2.0)  # a margin, so the probe must reach 100 %
    return x, y


def test_linear_probe_is_perfect_on_separable_data():
    x, y = linearly_separable()
    x_test, y_test = linearly_separable(seed=1)
    assert linear_probe_accuracy(x, y, x_test, y_test) == 1.0
    assert linear_probe(x, y, x_test, y_test)["macro_f1"] == 1.0


def test_constant_feature_does_not_produce_nan():
    x, y = linearly_separable()
    x = np.concatenate([x, np.full((len(x), 3), 4.2)], axis=1)  # dead embedding units
    result = linear_probe(x, y, x, y)
    assert all(math.isfinite(v) for v in result.values())
    assert result["accuracy"] == 1.0


def test_linear_probe_is_deterministic_and_accepts_torch():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(150, 10)), rng.integers(0, 3, size=150)
    first = linear_probe(torch.as_tensor(x), torch.as_tensor(y), x, y)
    assert linear_probe(x, y, x, y) == first


def test_single_class_training_set_predicts_that_class():
    x = np.random.default_rng(0).normal(size=(20, 3))
    assert linear_probe_accuracy(x, np.zeros(20), x, np.r_[np.zeros(15), np.ones(5)]) == 0.75


def test_macro_f1_penalises_ignoring_a_rare_class():
    # Features carry no signal: the probe predicts the majority class, accuracy stays high.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 2)) * 1e-3
    y = np.r_[np.zeros(90, dtype=int), np.ones(10, dtype=int)]
    result = linear_probe(x, y, x, y, C=1e-4)
    assert result["accuracy"] == pytest.approx(0.9)
    assert result["macro_f1"] < 0.5


def test_test_set_is_standardised_with_training_statistics():
    # Embeddings far from the origin at a large scale: only a consistent transform keeps 100 %.
    x, y = linearly_separable()
    x_test, y_test = linearly_separable(seed=1)
    assert linear_probe_accuracy(100 * x + 1000, y, 100 * x_test + 1000, y_test) == 1.0


def test_max_train_fits_on_a_stratified_subset_as_written_independently():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [150, 100, 50])
    x = rng.normal(size=(300, 4)) + y[:, None] * 0.8
    xt, yt = rng.normal(size=(90, 4)) + np.repeat(np.arange(3), 30)[:, None] * 0.8, np.repeat(np.arange(3), 30)
    got = linear_probe(x, y, xt, yt, max_train=60)
    sub_x, _, sub_y, _ = train_test_split(x, y, train_size=60, stratify=y, random_state=0)
    assert np.bincount(sub_y).tolist() == [30, 20, 10]  # the classes in their proportions
    scaler = StandardScaler().fit(sub_x)
    expected = LogisticRegression(max_iter=1000, random_state=0).fit(scaler.transform(sub_x), sub_y)
    assert got["accuracy"] == pytest.approx(expected.score(scaler.transform(xt), yt))
    assert linear_probe(x, y, xt, yt, max_train=1000) == linear_probe(x, y, xt, yt)  # below the cap: all

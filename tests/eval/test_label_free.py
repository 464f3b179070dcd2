"""Label-free scores: RankMe, embedding std, alignment and uniformity."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from selfsup.eval import alignment, collapse_ratio, embedding_std, rankme, uniformity


def numpy_rankme(emb, eps=1e-7):
    sigma = np.linalg.svd(np.asarray(emb, dtype=np.float64), compute_uv=False)
    p = sigma / np.abs(sigma).sum() + eps
    return float(np.exp(-(p * np.log(p)).sum()))


def unit(rows):
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_rankme_is_close_to_dimension_for_isotropic_embeddings():
    emb = np.random.default_rng(0).normal(size=(20_000, 16))
    assert 15.9 < rankme(emb) <= 16.0


def test_rankme_is_one_for_rank_one_embeddings():
    rng = np.random.default_rng(0)
    emb = np.outer(rng.normal(size=500), rng.normal(size=32))
    assert rankme(emb) == pytest.approx(1.0, abs=1e-3)
    assert rankme(np.zeros((10, 4))) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("shape", [(300, 20), (12, 40)])
def test_rankme_matches_numpy_svd_formula(shape):
    rng = np.random.default_rng(1)
    # Decaying spectrum so the effective rank is strictly between 1 and min(N, D).
    emb = rng.normal(size=shape) * np.geomspace(1, 1e-3, shape[1])
    expected = numpy_rankme(emb)
    assert 1.5 < expected < min(shape) - 1
    assert rankme(torch.as_tensor(emb, dtype=torch.float32)) == pytest.approx(expected, rel=1e-5)


def test_embedding_std_is_one_over_sqrt_dim_for_gaussian():
    dim = 64
    emb = np.random.default_rng(0).normal(size=(10_000, dim))
    assert embedding_std(emb) == pytest.approx(1 / math.sqrt(dim), rel=0.02)
    assert collapse_ratio(emb) == pytest.approx(1.0, rel=0.02)


def test_embedding_std_is_zero_when_collapsed():
    direction = np.random.default_rng(0).normal(size=(1, 32))
    emb = direction * np.linspace(1, 3, 100)[:, None]  # one direction, different norms
    assert embedding_std(emb) == pytest.approx(0.0, abs=1e-6)
    assert collapse_ratio(emb) == pytest.approx(0.0, abs=1e-5)


def test_alignment_matches_brute_force_and_is_zero_for_identical_views():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(40, 8)), rng.normal(size=(40, 8))
    a, b = unit(z1), unit(z2)
    for alpha in (1.0, 2.0):
        expected = np.mean([np.linalg.norm(a[i] - b[i]) ** alpha for i in range(40)])
        assert alignment(z1, z2, alpha=alpha) == pytest.approx(expected, rel=1e-5)
    assert alignment(z1, 3 * z1) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("t", [0.5, 2.0])
def test_uniformity_matches_brute_force(t):
    z = np.random.default_rng(0).normal(size=(30, 5))
    u = unit(z)
    pairs = [np.exp(-t * np.sum((u[i] - u[j]) ** 2))
             for i, j in itertools.combinations(range(30), 2)]
    assert uniformity(z, t=t) == pytest.approx(float(np.log(np.mean(pairs))), abs=1e-5)


def test_uniformity_is_zero_when_collapsed_and_lower_when_spread():
    collapsed = np.ones((50, 4))
    spread = np.random.default_rng(0).normal(size=(50, 4))
    assert uniformity(collapsed) == pytest.approx(0.0, abs=1e-6)
    assert uniformity(spread) < -1.0


def test_uniformity_subsample_is_deterministic():
    z = np.random.default_rng(0).normal(size=(300, 6))
    assert uniformity(z, max_samples=100) == uniformity(z, max_samples=100)
    assert uniformity(z, max_samples=100) == pytest.approx(uniformity(z), abs=0.1)

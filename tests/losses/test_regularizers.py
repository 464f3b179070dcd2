"""Embedding regularisers against direct formulations, and their effect under gradient descent."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from selfsup.eval import rankme, uniformity
from selfsup.losses.regularizers import effective_rank_loss, koleo_loss, uniformity_loss
from selfsup.registry import REGULARIZERS


def _points(n: int = 12, d: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_koleo_equals_mean_log_nearest_neighbour_distance_loop():
    z = _points()
    unit = F.normalize(z, dim=1)
    logs = []
    for i in range(len(unit)):
        nearest = min(float((unit[i] - unit[j]).norm()) for j in range(len(unit)) if j != i)
        logs.append(math.log(nearest + 1e-8))
    assert float(koleo_loss(z)) == pytest.approx(-np.mean(logs), rel=1e-9)


def test_koleo_is_larger_for_clustered_than_for_spread_embeddings():
    spread = _points(32, 3)
    clustered = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64) + 0.01 * spread
    assert koleo_loss(clustered) > koleo_loss(spread) + 1.0


def test_uniformity_equals_per_anchor_log_mean_gaussian_potential():
    z, t = _points(), 2.0
    unit = F.normalize(z, dim=1).numpy()
    per_anchor = []
    for i in range(len(unit)):
        potentials = [np.exp(-t * np.sum((unit[i] - unit[j]) ** 2)) for j in range(len(unit)) if j != i]
        per_anchor.append(np.log(np.mean(potentials)))
    assert float(uniformity_loss(z, t)) == pytest.approx(np.mean(per_anchor), rel=1e-9)


def test_effective_rank_loss_is_minus_log_entropy_rank_of_centred_batch():
    z = _points(40, 6)
    centred = (z - z.mean(0)).numpy()
    sigma = np.linalg.svd(centred, compute_uv=False)
    p = sigma / sigma.sum() + 1e-7
    assert float(effective_rank_loss(z)) == pytest.approx(np.sum(p * np.log(p)), rel=1e-6)


def test_effective_rank_loss_is_lowest_for_isotropic_embeddings():
    isotropic = _points(400, 8)
    low_rank = isotropic[:, :2] @ torch.randn(2, 8, dtype=torch.float64)
    assert float(effective_rank_loss(isotropic)) == pytest.approx(-math.log(8), abs=0.05)
    assert effective_rank_loss(low_rank) > effective_rank_loss(isotropic) + 1.0


@pytest.mark.parametrize("name", ["koleo", "uniformity"])
def test_gradient_descent_on_a_spreading_regulariser_spreads_clustered_embeddings(name):
    torch.manual_seed(0)
    z = (torch.tensor([1.0, 0.5, 0.0, 0.0]) + 0.05 * torch.randn(64, 4)).requires_grad_()
    before = uniformity(z.detach())  # Wang & Isola's score, computed independently (eval/)
    optimizer = torch.optim.SGD([z], lr=0.5)
    for _ in range(50):
        optimizer.zero_grad()
        REGULARIZERS.get(name)(z).backward()
        optimizer.step()
    assert uniformity(z.detach()) < before - 0.5


def test_gradient_descent_on_effective_rank_loss_raises_rankme_of_low_rank_embeddings():
    torch.manual_seed(0)
    z = (torch.randn(64, 1) @ torch.randn(1, 6) + 0.01 * torch.randn(64, 6)).requires_grad_()
    before = rankme(z.detach() - z.detach().mean(0))
    optimizer = torch.optim.SGD([z], lr=0.5)
    for _ in range(50):
        optimizer.zero_grad()
        effective_rank_loss(z).backward()
        optimizer.step()
    assert rankme(z.detach() - z.detach().mean(0)) > before + 1.0


def test_regularisers_reject_a_single_embedding():
    for loss in (koleo_loss, uniformity_loss, effective_rank_loss):
        with pytest.raises(ValueError, match="at least 2 rows"):
            loss(torch.randn(1, 4))

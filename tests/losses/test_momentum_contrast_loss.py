"""MoCo InfoNCE, MoCo v3 ctr, NNCLR: against per-sample loops written from the papers."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from selfsup.losses.moco import moco_infonce, moco_v3_contrastive, moco_v3_loss
from selfsup.losses.nnclr import nearest_neighbours, nnclr_contrastive, nnclr_loss


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_moco_infonce_equals_cross_entropy_computed_sample_by_sample():
    q, k, queue = _randn(5, 4, seed=0), _randn(5, 4, seed=1), _randn(7, 4, seed=2)
    tau = 0.2
    expected = 0.0
    for i in range(5):  # MoCo eq. 1, one query at a time
        positive = math.exp(_cos(q[i], k[i]) / tau)
        negatives = sum(math.exp(_cos(q[i], n) / tau) for n in queue)
        expected += -math.log(positive / (positive + negatives))
    got = moco_infonce(q, k, queue, temperature=tau)
    assert got.item() == pytest.approx(expected / 5, rel=1e-9)


def test_moco_infonce_without_negatives_is_zero():
    q, k = _randn(3, 4, seed=0), _randn(3, 4, seed=1)
    assert moco_infonce(q, k, torch.zeros(0, 4, dtype=torch.float64)).item() == pytest.approx(0.0)


def test_moco_infonce_sends_no_gradient_to_keys_or_queue():
    q = _randn(4, 3, seed=0).requires_grad_()
    k = _randn(4, 3, seed=1).requires_grad_()
    queue = _randn(6, 3, seed=2).requires_grad_()
    moco_infonce(q, k, queue).backward()
    assert k.grad is None and queue.grad is None
    assert q.grad is not None and q.grad.abs().sum() > 0


def _ctr_by_loop(q: torch.Tensor, k: torch.Tensor, tau: float) -> float:
    total = 0.0
    for i in range(q.shape[0]):
        scores = [math.exp(_cos(q[i], k[j]) / tau) for j in range(k.shape[0])]
        total += -math.log(scores[i] / sum(scores))
    return 2 * tau * total / q.shape[0]


def test_moco_v3_loss_equals_algorithm_1_sample_by_sample():
    q1, q2, k1, k2 = (_randn(6, 5, seed=s) for s in range(4))
    tau = 0.2
    expected = _ctr_by_loop(q1, k2, tau) + _ctr_by_loop(q2, k1, tau)
    assert moco_v3_loss(q1, q2, k1, k2, temperature=tau).item() == pytest.approx(expected, rel=1e-9)


def test_moco_v3_scaling_by_two_tau_makes_the_gradient_scale_independent_of_tau():
    # ctr = 2 tau CE(qk/tau): at large tau the softmax is near uniform and
    # d ctr / d logit ~ 2 tau * (p - onehot) / tau stays O(1); without the factor it vanishes.
    q, k = _randn(8, 4, seed=0).requires_grad_(), _randn(8, 4, seed=1)
    norms = []
    for tau in (1.0, 10.0):
        q.grad = None
        moco_v3_contrastive(q, k, temperature=tau).backward()
        norms.append(q.grad.norm().item())
    assert norms[1] == pytest.approx(norms[0], rel=0.2)


def test_moco_v3_keys_get_no_gradient():
    q1, q2 = _randn(4, 3, seed=0).requires_grad_(), _randn(4, 3, seed=1).requires_grad_()
    k1, k2 = _randn(4, 3, seed=2).requires_grad_(), _randn(4, 3, seed=3).requires_grad_()
    moco_v3_loss(q1, q2, k1, k2).backward()
    assert k1.grad is None and k2.grad is None
    assert q1.grad.abs().sum() > 0 and q2.grad.abs().sum() > 0


def test_nearest_neighbour_is_the_cosine_one_not_the_euclidean_one():
    z = torch.tensor([[1.0, 0.0]])
    support = torch.tensor([
        [1.2, 0.1],   # Euclidean-nearest to z, but 4.8 degrees off
        [10.0, 0.1],  # far in Euclidean distance, 0.6 degrees off: the cosine neighbour
        [0.0, 1.0],
    ])
    torch.testing.assert_close(nearest_neighbours(z, support), F.normalize(support[1:2], dim=1))


def test_nearest_neighbours_match_a_brute_force_search():
    z, support = _randn(10, 6, seed=0), _randn(40, 6, seed=1) * _randn(40, 1, seed=2).abs()
    got = nearest_neighbours(z, support)
    for i in range(10):
        best = max(range(40), key=lambda j: _cos(z[i], support[j]))
        torch.testing.assert_close(got[i], support[best] / support[best].norm())


def test_nnclr_loss_equals_eq_2_sample_by_sample():
    z1, z2, p1, p2 = (_randn(5, 4, seed=s) for s in range(4))
    support = _randn(12, 4, seed=9)
    tau = 0.1

    def one_direction(z, p):
        total = 0.0
        for i in range(5):
            neighbour = support[max(range(12), key=lambda j: _cos(z[i], support[j]))]
            scores = [math.exp(_cos(neighbour, p[j]) / tau) for j in range(5)]
            total += -math.log(scores[i] / sum(scores))
        return total / 5

    expected = 0.5 * (one_direction(z1, p2) + one_direction(z2, p1))
    got = nnclr_loss(z1, z2, p1, p2, support, temperature=tau)
    assert got.item() == pytest.approx(expected, rel=1e-9)


def test_nnclr_gradient_flows_through_predictions_only():
    z1, z2 = _randn(4, 3, seed=0).requires_grad_(), _randn(4, 3, seed=1).requires_grad_()
    p1, p2 = _randn(4, 3, seed=2).requires_grad_(), _randn(4, 3, seed=3).requires_grad_()
    support = _randn(8, 3, seed=4).requires_grad_()
    nnclr_loss(z1, z2, p1, p2, support).backward()
    assert z1.grad is None and z2.grad is None and support.grad is None
    assert p1.grad.abs().sum() > 0 and p2.grad.abs().sum() > 0


def test_nnclr_with_an_empty_support_set_uses_each_projection_as_its_neighbour():
    z1, z2, p1, p2 = (_randn(5, 4, seed=s) for s in range(4))
    empty = torch.zeros(0, 4, dtype=torch.float64)
    expected = 0.5 * (nnclr_contrastive(z1, p2, 0.1) + nnclr_contrastive(z2, p1, 0.1))
    torch.testing.assert_close(nnclr_loss(z1, z2, p1, p2, empty, temperature=0.1), expected)


def test_losses_reject_mismatched_shapes_and_bad_temperatures():
    a, b = torch.randn(4, 3), torch.randn(4, 5)
    with pytest.raises(ValueError, match="equal shape"):
        moco_infonce(a, b, torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"negatives of shape \[K, 3\]"):
        moco_infonce(a, a, torch.randn(2, 5))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        moco_v3_loss(a, a, a, a, temperature=0.0)
    with pytest.raises(ValueError, match="same D"):
        nearest_neighbours(a, torch.randn(2, 5))

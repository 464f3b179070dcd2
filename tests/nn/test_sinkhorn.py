"""Sinkhorn–Knopp equal-partition codes (SwAV) and SeLa's equipartition labels."""

from __future__ import annotations

import pytest
import torch

from selfsup.nn.sinkhorn import equipartition_labels, round_to_equipartition, sinkhorn


def _swav_reference(scores: torch.Tensor, epsilon: float, iterations: int) -> torch.Tensor:
    """SwAV's ``distributed_sinkhorn`` (main_swav.py) for one process, in probability space."""
    q = torch.exp(scores.double() / epsilon).T  # [K, B]
    k, b = q.shape
    q /= q.sum()
    for _ in range(iterations):
        q /= q.sum(dim=1, keepdim=True)
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= b
    q *= b
    return q.T


def test_sinkhorn_matches_the_swav_reference_algorithm():
    scores = torch.nn.functional.normalize(torch.randn(12, 5), dim=1) @ \
        torch.nn.functional.normalize(torch.randn(5, 5), dim=0)
    codes = sinkhorn(scores, epsilon=0.05, iterations=3)
    torch.testing.assert_close(codes.double(), _swav_reference(scores, 0.05, 3), rtol=1e-4, atol=1e-6)


def test_sinkhorn_plan_has_sample_mass_one_over_b_and_codes_sum_to_one():
    torch.manual_seed(0)
    batch = 10
    codes = sinkhorn(torch.randn(batch, 4), epsilon=0.5, iterations=3)
    # The returned codes are the plan scaled by B: rows of the plan sum to 1/B.
    torch.testing.assert_close((codes / batch).sum(dim=1), torch.full((batch,), 1 / batch))
    assert (codes >= 0).all()


def test_sinkhorn_cluster_marginals_are_equal_at_convergence():
    torch.manual_seed(0)
    batch, clusters = 24, 6
    # Strongly unbalanced preferences: most samples prefer cluster 0.
    scores = torch.randn(batch, clusters)
    scores[:, 0] += 2.0
    plan = sinkhorn(scores, epsilon=0.5, iterations=200) / batch
    torch.testing.assert_close(plan.sum(dim=0), torch.full((clusters,), 1 / clusters))
    torch.testing.assert_close(plan.sum(dim=1), torch.full((batch,), 1 / batch))
    # ... and three iterations are not enough for exact equality (the test can fail).
    few = sinkhorn(scores, epsilon=0.5, iterations=1) / batch
    assert not torch.allclose(few.sum(dim=0), torch.full((clusters,), 1 / clusters), atol=1e-4)


def test_sinkhorn_tolerance_bounds_the_cluster_mass_error():
    torch.manual_seed(1)
    scores = torch.randn(30, 5)
    codes = sinkhorn(scores, epsilon=0.2, iterations=10_000, tolerance=1e-3)
    mass = codes.sum(dim=0) / 30
    assert (mass * 5 - 1).abs().max() <= 1e-3


def test_sinkhorn_is_stable_for_large_score_scales():
    # SeLa: log-probabilities times lambda = 25 reach thousands; exp() would overflow.
    log_probs = torch.log_softmax(40 * torch.randn(50, 7), dim=1)
    codes = sinkhorn(log_probs, epsilon=1 / 25, iterations=50)
    assert torch.isfinite(codes).all()
    torch.testing.assert_close(codes.sum(dim=1), torch.ones(50))


def test_sinkhorn_takes_no_gradient():
    scores = torch.randn(6, 3, requires_grad=True)
    assert not sinkhorn(scores).requires_grad


@pytest.mark.parametrize("kwargs", [{"epsilon": 0.0}, {"iterations": 0}, {"iterations": 1.5}])
def test_sinkhorn_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        sinkhorn(torch.randn(4, 3), **kwargs)


def test_sinkhorn_rejects_non_matrix_scores():
    with pytest.raises(ValueError, match=r"\[B, K\]"):
        sinkhorn(torch.randn(4))


def test_equipartition_labels_split_the_data_set_equally_despite_a_global_bias():
    torch.manual_seed(0)
    clusters, per_cluster = 5, 8
    preferred = torch.arange(clusters).repeat_interleave(per_cluster)[torch.randperm(40)]
    logits = 0.3 * torch.randn(40, clusters)
    logits[torch.arange(40), preferred] += 3.0  # each sample's own cluster ...
    logits[:, 0] += 5.0  # ... but every sample's most probable cluster is 0 (collapse)
    log_probs = torch.log_softmax(logits, dim=1)
    assert (log_probs.argmax(dim=1) == 0).all()  # plain argmax would collapse

    labels = equipartition_labels(log_probs, lam=25.0)
    assert torch.bincount(labels, minlength=clusters).tolist() == [per_cluster] * clusters
    # Each sample goes to the cluster it prefers once the global bias is removed.
    assert torch.equal(labels, preferred)


def test_equipartition_labels_are_balanced_and_likely_on_random_probabilities():
    torch.manual_seed(0)
    n, clusters = 600, 6
    log_probs = torch.log_softmax(2 * torch.randn(n, clusters), dim=1)
    labels = equipartition_labels(log_probs, lam=25.0)
    assert torch.bincount(labels, minlength=clusters).tolist() == [n // clusters] * clusters
    chosen = log_probs[torch.arange(n), labels]
    # Much more probable than a random label, nearly as probable as the unconstrained argmax.
    assert chosen.mean() > log_probs.mean() + 1.0
    assert chosen.mean() > log_probs.max(dim=1).values.mean() - 0.5


def test_round_to_equipartition_moves_the_least_confident_samples_of_a_full_cluster():
    plan = torch.tensor([
        [0.9, 0.1, 0.0],
        [0.8, 0.0, 0.2],  # N=5, K=3: sizes 2, 2, 1; cluster 0 takes its two most confident ...
        [0.7, 0.3, 0.0],  # ... so the least confident of these three moves to its next best
        [0.0, 1.0, 0.0],
        [0.1, 0.0, 0.9],
    ])
    labels = round_to_equipartition(plan)
    assert labels.tolist() == [0, 0, 1, 1, 2]


def test_round_to_equipartition_sizes_differ_by_at_most_one():
    torch.manual_seed(0)
    labels = round_to_equipartition(torch.rand(23, 5))
    assert sorted(torch.bincount(labels, minlength=5).tolist()) == [4, 4, 5, 5, 5]
    # A plan that already is a balanced hard assignment is returned unchanged.
    hard = torch.eye(5)[torch.arange(20) % 5]
    assert torch.equal(round_to_equipartition(hard), torch.arange(20) % 5)


def test_equipartition_labels_reject_non_positive_lambda():
    with pytest.raises(ValueError, match="lambda"):
        equipartition_labels(torch.randn(4, 2), lam=0.0)

"""SwAV's swapped prediction loss and the pseudo-label cross-entropy of SeLa / DeepCluster-v2."""

from __future__ import annotations

import math

import pytest
import torch

from selfsup.losses.pseudo_label import pseudo_label_loss
from selfsup.losses.swav import swav_loss


def _codes(batch: int, clusters: int) -> torch.Tensor:
    return torch.softmax(torch.randn(batch, clusters), dim=1)


def _swav_by_loops(scores, codes, temperature):
    """Independent formulation: explicit sums over views, samples and clusters."""
    total = 0.0
    for s, q in enumerate(codes):
        view_terms = []
        for t, view_scores in enumerate(scores):
            if t == s:
                continue
            per_sample = []
            for b in range(view_scores.shape[0]):
                logits = [float(v) / temperature for v in view_scores[b]]
                log_norm = math.log(sum(math.exp(v) for v in logits))
                per_sample.append(-sum(float(q[b, k]) * (logits[k] - log_norm) for k in range(len(logits))))
            view_terms.append(sum(per_sample) / len(per_sample))
        total += sum(view_terms) / len(view_terms)
    return total / len(codes)


def test_swav_loss_with_two_views_is_the_symmetrised_swapped_prediction_of_eq_1():
    torch.manual_seed(0)
    s1, s2 = torch.randn(6, 4), torch.randn(6, 4)
    q1, q2 = _codes(6, 4), _codes(6, 4)

    def ell(scores, q):  # eq. 2: cross-entropy between code q and softmax(scores / tau)
        return -(q * torch.log_softmax(scores / 0.1, dim=1)).sum(1).mean()

    expected = 0.5 * (ell(s2, q1) + ell(s1, q2))
    torch.testing.assert_close(swav_loss([s1, s2], [q1, q2], temperature=0.1), expected)


def test_swav_loss_with_local_views_equals_the_loop_formulation():
    torch.manual_seed(1)
    scores = [torch.randn(5, 3) for _ in range(4)]  # 2 global + 2 local views
    codes = [_codes(5, 3) for _ in range(2)]
    got = swav_loss(scores, codes, temperature=0.5)
    assert float(got) == pytest.approx(_swav_by_loops(scores, codes, 0.5), rel=1e-5)


def test_swav_loss_sends_no_gradient_into_the_codes():
    scores = [torch.randn(4, 3, requires_grad=True) for _ in range(2)]
    codes = [_codes(4, 3).requires_grad_() for _ in range(2)]
    swav_loss(scores, codes).backward()
    assert all(q.grad is None for q in codes)
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in scores)


def test_swav_loss_rejects_mismatched_shapes_and_missing_views():
    with pytest.raises(ValueError, match="same shape"):
        swav_loss([torch.randn(4, 3), torch.randn(4, 2)], [_codes(4, 3)])
    with pytest.raises(ValueError, match="at least 2 views"):
        swav_loss([torch.randn(4, 3)], [_codes(4, 3)])
    with pytest.raises(ValueError, match="temperature"):
        swav_loss([torch.randn(4, 3)] * 2, [_codes(4, 3)], temperature=0.0)


def test_pseudo_label_loss_is_the_mean_over_heads_of_the_cross_entropy():
    torch.manual_seed(2)
    logits = [torch.randn(6, 4), torch.randn(6, 3)]
    labels = [torch.tensor([0, 1, 2, 3, -1, 1]), torch.tensor([2, 2, 0, 1, 0, -1])]
    per_head = []
    for s, y in zip(logits, labels):
        terms = [-(torch.log_softmax(s[i] / 0.1, 0)[y[i]]) for i in range(6) if y[i] != -1]
        per_head.append(sum(terms) / len(terms))
    expected = sum(per_head) / 2
    torch.testing.assert_close(pseudo_label_loss(logits, labels, temperature=0.1), expected)


def test_pseudo_label_loss_of_a_head_without_labels_is_zero_but_attached():
    logits = torch.randn(4, 3, requires_grad=True)
    loss = pseudo_label_loss([logits], [torch.full((4,), -1)])
    assert float(loss.detach()) == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros(4, 3))


def test_pseudo_label_loss_rejects_mismatched_heads():
    with pytest.raises(ValueError, match="one label tensor per head"):
        pseudo_label_loss([torch.randn(4, 3)], [])
    with pytest.raises(ValueError, match=r"labels \[N\]"):
        pseudo_label_loss([torch.randn(4, 3)], [torch.zeros(5, dtype=torch.long)])

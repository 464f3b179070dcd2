"""InfoNCE variants against their papers' equations, written out anchor by anchor.

The references below loop over an *interleaved* layout ([a0, b0, a1, b1, ...]) with plain
Python sums, so they share no index arithmetic with the implementations under test.
"""

from __future__ import annotations

import math

import pytest
import torch

from selfsup.losses.dcl import dcl_loss, dclw_loss, vmf_weights
from selfsup.losses.debiased import debiased_contrastive_loss
from selfsup.losses.isogclr import isogclr_loss
from selfsup.losses.mv_infonce import mv_infonce_loss
from selfsup.losses.nt_xent import nt_xent
from selfsup.losses.supcon import supcon_loss


def _pair(n: int = 6, d: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64)
    return z1, z1 + 0.8 * torch.randn(n, d, generator=g, dtype=torch.float64)


def _interleaved_cosines(*views: torch.Tensor) -> tuple[list[list[float]], int]:
    """Cosine matrix of [v0[0], v1[0], ..., v0[1], v1[1], ...] as nested Python lists."""
    z = torch.stack(views, dim=1).reshape(-1, views[0].shape[1])
    z = z / z.norm(dim=1, keepdim=True)
    return (z @ z.T).tolist(), len(views)


def _partner(a: int) -> int:
    return a + 1 if a % 2 == 0 else a - 1


# ---------------------------------------------------------------- DCL / DCLW (Yeh et al. 2022)


def _dcl_reference(z1, z2, temperature, weights=None):
    sim, _ = _interleaved_cosines(z1, z2)
    losses = []
    for a in range(len(sim)):
        p = _partner(a)
        w = 1.0 if weights is None else float(weights[a // 2])
        # NT-Xent's denominator minus the positive: only k != a and k != p remain.
        negatives = sum(
            math.exp(sim[a][k] / temperature) for k in range(len(sim)) if k not in (a, p)
        )
        losses.append(-w * sim[a][p] / temperature + math.log(negatives))
    return torch.tensor(sum(losses) / len(losses), dtype=torch.float64)


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_dcl_equals_nt_xent_with_the_positive_removed_from_the_denominator(temperature):
    z1, z2 = _pair()
    torch.testing.assert_close(dcl_loss(z1, z2, temperature), _dcl_reference(z1, z2, temperature))
    # and it is strictly below NT-Xent, whose denominator also holds the positive
    assert dcl_loss(z1, z2, temperature) < nt_xent(z1, z2, temperature)


def test_vmf_weights_follow_the_paper_and_average_to_one():
    z1, z2 = _pair()
    sigma = 0.5
    cos = [float(torch.cosine_similarity(a, b, dim=0)) for a, b in zip(z1, z2)]
    mean = sum(math.exp(c / sigma) for c in cos) / len(cos)
    expected = torch.tensor([2 - math.exp(c / sigma) / mean for c in cos], dtype=torch.float64)
    weights = vmf_weights(z1, z2, sigma)
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(weights.mean(), torch.tensor(1.0, dtype=torch.float64))
    # the hardest positive (lowest cosine) weighs most
    assert int(weights.argmax()) == min(range(len(cos)), key=cos.__getitem__)


def test_dclw_with_constant_weights_reduces_to_dcl():
    z1, z2 = _pair()
    torch.testing.assert_close(
        dcl_loss(z1, z2, 0.1, weights=torch.ones(6, dtype=torch.float64)), dcl_loss(z1, z2, 0.1)
    )
    # sigma -> infinity flattens the vMF weights to 1
    torch.testing.assert_close(dclw_loss(z1, z2, 0.1, sigma=1e9), dcl_loss(z1, z2, 0.1))


def test_dclw_equals_the_weighted_reference_and_differs_from_dcl():
    z1, z2 = _pair()
    weights = vmf_weights(z1, z2, 0.5)
    torch.testing.assert_close(
        dclw_loss(z1, z2, 0.2, sigma=0.5), _dcl_reference(z1, z2, 0.2, weights)
    )
    assert not torch.allclose(dclw_loss(z1, z2, 0.2), dcl_loss(z1, z2, 0.2))


def test_dclw_weights_are_constants_for_the_gradient():
    z1, z2 = (z.requires_grad_() for z in _pair())
    assert not vmf_weights(z1, z2).requires_grad


# ------------------------------------------------------- Debiased (Chuang et al. 2020)


def _debiased_reference(z1, z2, t, tau_plus):
    sim, _ = _interleaved_cosines(z1, z2)
    n_neg = len(sim) - 2
    losses = []
    for a in range(len(sim)):
        p = _partner(a)
        pos = math.exp(sim[a][p] / t)
        mean_neg = sum(math.exp(sim[a][k] / t) for k in range(len(sim)) if k not in (a, p)) / n_neg
        g = max((mean_neg - tau_plus * pos) / (1 - tau_plus), math.exp(-1 / t))
        losses.append(-math.log(pos / (pos + n_neg * g)))
    return torch.tensor(sum(losses) / len(losses), dtype=torch.float64)


@pytest.mark.parametrize("tau_plus", [0.1, 0.3])
def test_debiased_loss_follows_the_paper_estimator(tau_plus):
    z1, z2 = _pair()
    torch.testing.assert_close(
        debiased_contrastive_loss(z1, z2, 0.5, tau_plus), _debiased_reference(z1, z2, 0.5, tau_plus)
    )


def test_debiased_with_tau_plus_zero_is_simclr_nt_xent():
    # The estimator generalises the biased objective (the paper's eq. with uniform negatives),
    # which with the 2N - 2 other-sample views as negatives is SimCLR's NT-Xent (eq. 1).
    z1, z2 = _pair()
    for t in (0.1, 0.5):
        torch.testing.assert_close(
            debiased_contrastive_loss(z1, z2, t, tau_plus=0.0), nt_xent(z1, z2, t)
        )


def test_debiased_clamp_binds_at_n_exp_minus_one_over_t():
    # Identical views and a large tau_plus drive the estimate below N' e^{-1/t}.
    z = torch.randn(5, 4, dtype=torch.float64)
    t, n_neg = 0.5, 8
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + n_neg * math.exp(-1 / t)))
    torch.testing.assert_close(
        debiased_contrastive_loss(z, z, t, tau_plus=0.9),
        torch.tensor(expected, dtype=torch.float64),
    )


def test_debiased_rejects_tau_plus_of_one():
    with pytest.raises(ValueError, match="tau_plus"):
        debiased_contrastive_loss(*_pair(), tau_plus=1.0)


# ------------------------------------------------------------ SupCon (Khosla et al. 2020)


def _supcon_reference(z1, z2, labels, t):
    sim, _ = _interleaved_cosines(z1, z2)
    y = [int(labels[a // 2]) for a in range(len(sim))]
    losses = []
    for a in range(len(sim)):
        denominator = sum(math.exp(sim[a][k] / t) for k in range(len(sim)) if k != a)
        positives = [p for p in range(len(sim)) if p != a and y[p] == y[a]]
        losses.append(
            -sum(math.log(math.exp(sim[a][p] / t) / denominator) for p in positives)
            / len(positives)
        )
    return torch.tensor(sum(losses) / len(losses), dtype=torch.float64)


def test_supcon_equals_the_l_sup_out_equation():
    z1, z2 = _pair()
    labels = torch.tensor([0, 1, 0, 2, 1, 0])
    torch.testing.assert_close(
        supcon_loss(z1, z2, labels, 0.1), _supcon_reference(z1, z2, labels, 0.1)
    )


def test_supcon_with_one_positive_per_anchor_is_nt_xent():
    z1, z2 = _pair()
    torch.testing.assert_close(supcon_loss(z1, z2, torch.arange(6), 0.3), nt_xent(z1, z2, 0.3))
    assert not torch.allclose(
        supcon_loss(z1, z2, torch.tensor([0, 0, 1, 1, 2, 2]), 0.3), nt_xent(z1, z2, 0.3)
    )


def test_supcon_rejects_labels_of_the_wrong_shape():
    with pytest.raises(ValueError, match="labels"):
        supcon_loss(*_pair(), torch.arange(5))


# ----------------------------------------------------- MV-InfoNCE (Koromilas et al. 2025)


def _mv_infonce_reference(views, t):
    sim, v = _interleaved_cosines(*views)  # embedding (i, l) sits at i * v + l
    n = len(sim) // v
    losses = []
    for i in range(n):
        rows = [i * v + l for l in range(v)]
        positive = sum(math.exp(sim[a][b] / t) for a in rows for b in rows if a != b)
        energy = sum(math.exp(sim[a][k] / t) for a in rows for k in range(len(sim)) if k != a)
        losses.append(-math.log(positive / energy))
    return torch.tensor(sum(losses) / n, dtype=torch.float64)


@pytest.mark.parametrize("num_views", [2, 3, 4])
def test_mv_infonce_equals_the_paper_loss(num_views):
    g = torch.Generator().manual_seed(1)
    views = [torch.randn(5, 4, generator=g, dtype=torch.float64) for _ in range(num_views)]
    torch.testing.assert_close(mv_infonce_loss(views, 0.5), _mv_infonce_reference(views, 0.5))


def test_mv_infonce_with_two_views_pools_the_nt_xent_denominators():
    z1, z2 = _pair()
    t = 0.5
    sim, _ = _interleaved_cosines(z1, z2)
    expected = []
    for i in range(6):
        a, b = 2 * i, 2 * i + 1
        d_a = sum(math.exp(sim[a][k] / t) for k in range(12) if k != a)
        d_b = sum(math.exp(sim[b][k] / t) for k in range(12) if k != b)
        expected.append(-math.log(math.exp(sim[a][b] / t) / ((d_a + d_b) / 2)))
    torch.testing.assert_close(
        mv_infonce_loss([z1, z2], t), torch.tensor(sum(expected) / 6, dtype=torch.float64)
    )
    # arithmetic >= geometric mean of the denominators: never below NT-Xent ...
    assert mv_infonce_loss([z1, z2], t) > nt_xent(z1, z2, t)
    # ... and equal to it when both views see the same denominator (identical views)
    torch.testing.assert_close(mv_infonce_loss([z1, z1], t), nt_xent(z1, z1, t))


def test_mv_infonce_is_symmetric_in_the_views():
    g = torch.Generator().manual_seed(2)
    views = [torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(3)]
    torch.testing.assert_close(mv_infonce_loss(views), mv_infonce_loss(views[::-1]))


def test_mv_infonce_needs_two_views():
    with pytest.raises(ValueError, match="at least 2 views"):
        mv_infonce_loss([torch.randn(4, 3)])


# ------------------------------------------------------------- iSogCLR (Qiu et al. 2023)


def _inner_means(z1, z2, tau):
    """g_i: mean of exp(h_i(z) / tau_i) over the negatives of both views of sample i."""
    sim, _ = _interleaved_cosines(z1, z2)
    n = len(sim) // 2
    means = []
    for i in range(n):
        terms = []
        for a in (2 * i, 2 * i + 1):
            p = _partner(a)
            terms += [
                math.exp((sim[a][k] - sim[a][p]) / float(tau[i]))
                for k in range(len(sim))
                if k not in (a, p)
            ]
        means.append(sum(terms) / len(terms))
    return torch.tensor(means, dtype=torch.float64)


def _tau():
    return torch.tensor([0.1, 0.2, 0.3, 0.15, 0.5, 0.08], dtype=torch.float64)


def test_isogclr_first_visit_starts_u_at_the_batch_estimate_then_averages():
    z1, z2 = _pair()
    g = _inner_means(z1, z2, _tau())
    first = isogclr_loss(z1, z2, _tau(), torch.zeros(6, dtype=torch.float64), gamma=0.8, rho=0.4)
    torch.testing.assert_close(first.u, g)
    previous = torch.full((6,), 3.0, dtype=torch.float64)
    later = isogclr_loss(z1, z2, _tau(), previous, gamma=0.8, rho=0.4)
    torch.testing.assert_close(later.u, 0.2 * previous + 0.8 * g)


def test_isogclr_gradients_are_the_objectives_gradients_when_u_is_exact():
    # On a first visit u_i = g_i, so Algorithm 1's estimators are the exact gradients of
    # F(w, tau) = mean_i tau_i log g_i(w, tau_i) + tau_i rho, computed here by autograd.
    z1, z2 = (z.requires_grad_() for z in _pair())
    tau = _tau().requires_grad_()
    rho = 0.4
    z1n, z2n = (z / z.norm(dim=1, keepdim=True) for z in (z1, z2))
    anchors = [z1n, z2n]
    objective = 0.0
    for i in range(6):
        terms = []
        for view in (0, 1):
            a, p = anchors[view][i], anchors[1 - view][i]
            for j in range(6):
                for other in (0, 1):
                    if j != i:
                        terms.append(torch.exp((a @ anchors[other][j] - a @ p) / tau[i]))
        objective = objective + tau[i] * torch.log(torch.stack(terms).mean()) + tau[i] * rho
    objective = objective / 6
    grad_z1, grad_z2, grad_tau = torch.autograd.grad(objective, (z1, z2, tau))

    out = isogclr_loss(z1, z2, tau.detach(), torch.zeros(6, dtype=torch.float64), rho=rho)
    torch.testing.assert_close(out.loss, objective.detach())
    got_z1, got_z2 = torch.autograd.grad(out.loss, (z1, z2))
    torch.testing.assert_close(got_z1, grad_z1)
    torch.testing.assert_close(got_z2, grad_z2)
    # temperature_grad is d F_i / d tau_i (F summed, not averaged, over samples)
    torch.testing.assert_close(out.temperature_grad, 6 * grad_tau)


def test_isogclr_temperature_gradient_is_rho_minus_the_kl_of_the_weights():
    z1, z2 = _pair()
    out = isogclr_loss(z1, z2, _tau(), torch.zeros(6, dtype=torch.float64), rho=0.0)
    # rho = 0: the gradient is -KL(p || uniform) <= 0, so gradient descent raises tau
    assert (out.temperature_grad <= 0).all()
    shifted = isogclr_loss(z1, z2, _tau(), torch.zeros(6, dtype=torch.float64), rho=0.7)
    torch.testing.assert_close(shifted.temperature_grad, out.temperature_grad + 0.7)

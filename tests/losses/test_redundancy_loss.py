import pytest
import torch

from selfsup.losses.barlow_twins import BarlowTwinsLoss, barlow_twins_loss, barlow_twins_terms
from selfsup.losses.vicreg import VICRegLoss, vicreg_loss, vicreg_terms


def _pair(n=16, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    return z1, z2


# ----------------------------------------------------------------------------- Barlow Twins


def test_barlow_twins_matches_explicit_loop_over_cross_correlation():
    z1, z2 = _pair()
    n, d = z1.shape
    lam = 5e-3
    # C_ij = sum_b za_bi zb_bj / (sqrt(sum_b za_bi^2) sqrt(sum_b zb_bj^2)), za/zb mean-centred.
    a = z1 - z1.mean(0)
    b = z2 - z2.mean(0)
    expected = 0.0
    for i in range(d):
        for j in range(d):
            num = sum(a[k, i] * b[k, j] for k in range(n))
            c_ij = num / (a[:, i].pow(2).sum().sqrt() * b[:, j].pow(2).sum().sqrt())
            expected += (1 - c_ij) ** 2 if i == j else lam * c_ij**2
    torch.testing.assert_close(barlow_twins_loss(z1, z2, lam, eps=0.0), expected)


def test_barlow_twins_terms_add_up_and_module_matches():
    z1, z2 = _pair()
    terms = barlow_twins_terms(z1, z2, 0.1)
    torch.testing.assert_close(terms["loss"], terms["on_diagonal"] + 0.1 * terms["off_diagonal"])
    torch.testing.assert_close(BarlowTwinsLoss(0.1)(z1, z2), terms["loss"])


def test_barlow_twins_is_near_zero_for_identical_decorrelated_views():
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    assert barlow_twins_loss(z, z.clone(), eps=0.0) < 1e-12


# ----------------------------------------------------------------------------------- VICReg


def test_vicreg_invariance_term_equals_mse():
    z1, z2 = _pair()
    expected = ((z1 - z2) ** 2).sum() / z1.numel()
    torch.testing.assert_close(vicreg_terms(z1, z2)["invariance"], expected)


def test_vicreg_variance_term_is_zero_when_std_above_gamma():
    z1, z2 = _pair(n=64)
    z1, z2 = 3.0 * z1 / z1.std(0), 3.0 * z2 / z2.std(0)  # every dimension has std 3 > gamma
    assert vicreg_terms(z1, z2, gamma=1.0)["variance"] == 0.0


def test_vicreg_variance_term_penalises_collapse():
    z = torch.ones(8, 4, dtype=torch.float64)
    eps = 1e-4
    # std = sqrt(0 + eps) per dimension, hinge gamma - sqrt(eps) for each of the two views.
    expected = 2 * (1.0 - eps**0.5)
    variance = vicreg_terms(z, z, eps=eps)["variance"]
    torch.testing.assert_close(variance, torch.tensor(expected, dtype=torch.float64))


def test_vicreg_covariance_term_is_zero_for_decorrelated_embeddings():
    # Columns of a Hadamard matrix: zero mean (except the first, dropped) and orthogonal.
    h2 = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64)
    h8 = torch.kron(torch.kron(h2, h2), h2)
    z = h8[:, 1:]  # [8, 7], uncorrelated dimensions
    assert vicreg_terms(z, z)["covariance"].abs() < 1e-12


def test_vicreg_covariance_term_matches_explicit_sum():
    z1, z2 = _pair()
    n, d = z1.shape

    def c(z):
        zc = z - z.mean(0)
        total = 0.0
        for i in range(d):
            for j in range(d):
                if i != j:
                    total += ((zc[:, i] * zc[:, j]).sum() / (n - 1)) ** 2
        return total / d

    torch.testing.assert_close(vicreg_terms(z1, z2)["covariance"], c(z1) + c(z2))


def test_vicreg_total_is_weighted_sum_of_terms():
    z1, z2 = _pair()
    t = vicreg_terms(z1, z2)
    weighted = 25 * t["invariance"] + 25 * t["variance"] + t["covariance"]
    torch.testing.assert_close(t["loss"], weighted)
    module = VICRegLoss(1.0, 2.0, 3.0)
    torch.testing.assert_close(vicreg_loss(z1, z2, 1.0, 2.0, 3.0), module(z1, z2))


def test_vicreg_rejects_single_sample():
    with pytest.raises(ValueError, match="at least 2"):
        vicreg_loss(torch.randn(1, 4), torch.randn(1, 4))

"""Mixed Barlow Twins regulariser (Bandara et al. 2023) against the paper's formulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selfsup.losses.barlow_twins import barlow_twins_loss
from selfsup.losses.mixed_barlow_twins import (
    mixed_barlow_regularizer,
    mixed_barlow_twins_loss,
    mixed_barlow_twins_terms,
)

B, IN_DIM, D = 12, 6, 4


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x1 = torch.randn(B, IN_DIM, generator=g, dtype=torch.float64)
    x2 = x1 + 0.5 * torch.randn(B, IN_DIM, generator=g, dtype=torch.float64)
    perm = torch.randperm(B, generator=g)
    weight = torch.randn(D, IN_DIM, generator=g, dtype=torch.float64)
    bias = torch.randn(D, generator=g, dtype=torch.float64)
    return x1, x2, perm, weight, bias


def _paper_regularizer(z1, z2, zm, lam, perm, standardization, eps=1e-5) -> float:
    """The paper's C^{MA}, C^{MA}_gt = lam C^{AA} + (1 - lam) C^{B'A} (and B), as sums."""
    z1, z2, zm = (t.detach().numpy() for t in (z1, z2, zm))
    lam = np.broadcast_to(np.asarray(lam, dtype=np.float64), (len(z1),))
    perm = perm.numpy()
    mu1, mu2 = z1.mean(0), z2.mean(0)
    if standardization == "own":
        s1, s2 = np.sqrt(z1.var(0) + eps), np.sqrt(z2.var(0) + eps)
        m = (zm - zm.mean(0)) / np.sqrt(zm.var(0) + eps)
    else:
        s1 = s2 = np.sqrt((z1.var(0) + z2.var(0)) / 2 + eps)
        m = (zm - (lam[:, None] * mu1 + (1 - lam[:, None]) * mu2)) / s1
    a, b = (z1 - mu1) / s1, (z2 - mu2) / s2
    n, d = a.shape
    total = 0.0
    for view in (a, b):
        for i in range(d):
            for j in range(d):
                c_m = sum(m[k, i] * view[k, j] for k in range(n)) / n
                c_a = sum(lam[k] * a[k, i] * view[k, j] for k in range(n)) / n
                c_b = sum((1 - lam[k]) * b[perm[k], i] * view[k, j] for k in range(n)) / n
                total += (c_m - (c_a + c_b)) ** 2
    return total


@pytest.mark.parametrize("per_sample_lam", [False, True], ids=["scalar_lam", "per_sample_lam"])
def test_regularizer_is_zero_when_the_mixed_embedding_is_the_interpolation(per_sample_lam):
    # A linear (affine) encoder maps the mixed input to the interpolation of the embeddings.
    x1, x2, perm, weight, bias = _inputs()
    lam = torch.linspace(0.1, 0.9, B, dtype=torch.float64) if per_sample_lam else 0.3
    lam_col = lam.unsqueeze(1) if per_sample_lam else lam
    encode = lambda x: x @ weight.T + bias
    z_mixed = encode(lam_col * x1 + (1 - lam_col) * x2[perm])
    reg = mixed_barlow_regularizer(encode(x1), encode(x2), z_mixed, lam, perm)
    assert reg.item() == pytest.approx(0.0, abs=1e-20)
    # ... and is not zero once the encoder is non-linear.
    nonlinear = mixed_barlow_regularizer(
        torch.tanh(encode(x1)), torch.tanh(encode(x2)), torch.tanh(z_mixed), lam, perm)
    assert nonlinear.item() > 1e-3


def test_own_standardization_is_not_zero_for_a_linear_encoder():
    # The released code standardises the mixed batch by its own statistics: even an exact
    # interpolation then pays a penalty (why the library default is "shared").
    x1, x2, perm, weight, bias = _inputs()
    encode = lambda x: x @ weight.T + bias
    z_mixed = encode(0.5 * x1 + 0.5 * x2[perm])
    reg = mixed_barlow_regularizer(encode(x1), encode(x2), z_mixed, 0.5, perm, "own")
    assert reg.item() > 1e-3


@pytest.mark.parametrize("standardization", ["shared", "own"])
@pytest.mark.parametrize("lam", [0.7, "per_sample"])
def test_regularizer_matches_the_papers_cross_correlation_formula(standardization, lam):
    g = torch.Generator().manual_seed(1)
    z1, z2, zm = (torch.randn(B, D, generator=g, dtype=torch.float64) for _ in range(3))
    perm = torch.randperm(B, generator=g)
    if lam == "per_sample":
        lam = torch.rand(B, generator=g, dtype=torch.float64)
    got = mixed_barlow_regularizer(z1, z2, zm, lam, perm, standardization)
    expected = _paper_regularizer(z1, z2, zm, lam, perm, standardization)
    assert got.item() == pytest.approx(expected, rel=1e-10)


def test_mixed_loss_is_barlow_twins_plus_weighted_regularizer():
    g = torch.Generator().manual_seed(2)
    z1, z2, zm = (torch.randn(B, D, generator=g, dtype=torch.float64) for _ in range(3))
    perm = torch.randperm(B, generator=g)
    terms = mixed_barlow_twins_terms(z1, z2, zm, 0.4, perm, lambda_offdiag=0.1,
                                     mixup_weight=3.0)
    bt = barlow_twins_loss(z1, z2, lambda_offdiag=0.1)
    reg = mixed_barlow_regularizer(z1, z2, zm, 0.4, perm)
    torch.testing.assert_close(terms["mixup"], reg)
    torch.testing.assert_close(terms["loss"], bt + 3.0 * 0.1 * reg)
    assert {"on_diagonal", "off_diagonal"} <= set(terms)
    no_mix = mixed_barlow_twins_loss(z1, z2, zm, 0.4, perm, lambda_offdiag=0.1, mixup_weight=0.0)
    torch.testing.assert_close(no_mix, bt)


def test_regularizer_sends_gradients_to_all_three_embeddings():
    g = torch.Generator().manual_seed(3)
    z1, z2, zm = (torch.randn(B, D, generator=g).requires_grad_() for _ in range(3))
    mixed_barlow_regularizer(z1, z2, zm, 0.4, torch.randperm(B, generator=g)).backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in (z1, z2, zm))


def test_regularizer_rejects_bad_arguments():
    z = torch.randn(B, D)
    perm = torch.randperm(B)
    with pytest.raises(ValueError, match="standardization"):
        mixed_barlow_regularizer(z, z, z, 0.5, perm, "batch")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mixed_barlow_regularizer(z, z, z, 1.5, perm)
    with pytest.raises(ValueError, match="perm"):
        mixed_barlow_regularizer(z, z, z, 0.5, perm[:-1])
    with pytest.raises(ValueError, match="equal shape"):
        mixed_barlow_regularizer(z, z, torch.randn(B, D + 1), 0.5, perm)

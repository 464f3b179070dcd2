"""W-MSE whitening and loss (Ermolov et al. 2021) against an independent NumPy formulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selfsup.losses.wmse import WMSELoss, whiten, wmse_loss


def _correlated(n: int, d: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(d, d, generator=g, dtype=dtype)
    return torch.randn(n, d, generator=g, dtype=dtype) @ mixing + 3.0


def _numpy_whiten(z: np.ndarray, eps: float) -> np.ndarray:
    # Independent: np.cov (unbiased), Cholesky, then an explicit inverse of L.
    cov = (1 - eps) * np.cov(z, rowvar=False) + eps * np.eye(z.shape[1])
    inv_l = np.linalg.inv(np.linalg.cholesky(cov))
    return (z - z.mean(axis=0)) @ inv_l.T


def _numpy_wmse(views: list[np.ndarray], sub_batches: list[np.ndarray], eps: float) -> float:
    """The paper's loss written as loops: per pair of views, per sample, ||a/|a| - b/|b|||^2."""
    whitened = [np.empty_like(v) for v in views]
    for idx in sub_batches:
        for v, w in zip(views, whitened):
            w[idx] = _numpy_whiten(v[idx], eps)
    terms = []
    for i in range(len(views)):
        for j in range(i + 1, len(views)):
            for b in range(views[0].shape[0]):
                a = whitened[i][b] / np.linalg.norm(whitened[i][b])
                c = whitened[j][b] / np.linalg.norm(whitened[j][b])
                terms.append(np.sum((a - c) ** 2))
    return float(np.mean(terms))


def test_whitened_embeddings_have_zero_mean_and_identity_covariance():
    z = _correlated(200, 8).float()
    assert torch.cov(z.T).sub(torch.eye(8)).abs().max() > 1.0  # the input is far from white
    w = whiten(z, eps=0.0)
    torch.testing.assert_close(w.mean(0), torch.zeros(8), atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.cov(w.T), torch.eye(8), atol=1e-3, rtol=0)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_whiten_matches_inverse_cholesky_formula(eps):
    z = _correlated(40, 5, seed=1)
    expected = _numpy_whiten(z.numpy(), eps)
    np.testing.assert_allclose(whiten(z, eps).numpy(), expected, rtol=1e-8, atol=1e-10)


def test_whiten_backpropagates_through_mean_and_cholesky():
    z = _correlated(12, 3, seed=2).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: whiten(t, 0.05), (z,))


def test_whiten_rejects_fewer_samples_than_dimensions():
    with pytest.raises(ValueError, match="not positive definite"):
        whiten(torch.randn(4, 8), eps=0.0)


def test_whiten_computes_in_float32_for_half_inputs():
    w = whiten(_correlated(64, 4).to(torch.bfloat16), eps=0.0)
    assert w.dtype == torch.float32


def test_wmse_loss_equals_loop_formulation_with_three_views_and_uneven_sub_batches():
    # 65 rows, w_size 20 -> 3 sub-batches of 22, 22, 21 rows (the remainder is shared).
    views = [_correlated(65, 5, seed=s) for s in (3, 4, 5)]
    sub_batches = [idx.numpy() for idx in torch.tensor_split(torch.arange(65), 3)]
    assert [len(i) for i in sub_batches] == [22, 22, 21]
    expected = _numpy_wmse([v.numpy() for v in views], sub_batches, eps=1e-4)
    got = wmse_loss(views, w_size=20, eps=1e-4, shuffle=False)
    assert got.item() == pytest.approx(expected, rel=1e-9)


def test_wmse_loss_with_shuffle_whitens_random_sub_batches():
    views = [_correlated(64, 4, seed=s) for s in (6, 7)]
    torch.manual_seed(0)
    got = wmse_loss(views, w_size=16, w_iter=2, eps=0.0)
    torch.manual_seed(0)
    expected = []
    for _ in range(2):
        order = torch.randperm(64)
        sub_batches = [i.numpy() for i in torch.tensor_split(order, 4)]
        expected.append(_numpy_wmse([v.numpy() for v in views], sub_batches, eps=0.0))
    assert got.item() == pytest.approx(np.mean(expected), rel=1e-9)
    assert got.item() != pytest.approx(wmse_loss(views, 16, eps=0.0, shuffle=False).item())


def test_wmse_loss_is_the_mean_over_sub_batches_so_processes_need_no_gather():
    # Two processes of 32 rows each, whitening their own sub-batches, optimise the mean of
    # their losses: the same number as one process of 64 rows with the same sub-batches.
    views = [_correlated(64, 4, seed=s) for s in (8, 9)]
    whole = wmse_loss(views, w_size=32, eps=1e-4, shuffle=False)
    halves = [wmse_loss([v[rows] for v in views], 32, eps=1e-4, shuffle=False)
              for rows in (slice(0, 32), slice(32, 64))]
    torch.testing.assert_close(whole, torch.stack(halves).mean())


def test_wmse_loss_is_zero_for_identical_views_and_positive_otherwise():
    z = _correlated(32, 4, seed=10)
    assert wmse_loss([z, z.clone()], w_size=16).item() == pytest.approx(0.0, abs=1e-12)
    assert wmse_loss([z, _correlated(32, 4, seed=11)], w_size=16).item() > 0.5


def test_wmse_loss_module_and_gradients():
    z1 = _correlated(32, 4, seed=12).requires_grad_()
    z2 = _correlated(32, 4, seed=13).requires_grad_()
    loss = WMSELoss(w_size=16)([z1, z2])
    loss.backward()
    assert z1.grad.abs().sum() > 0 and z2.grad.abs().sum() > 0


def test_wmse_loss_rejects_bad_inputs():
    z = torch.randn(16, 4)
    with pytest.raises(ValueError, match="only 16"):
        wmse_loss([z, z], w_size=32)
    with pytest.raises(ValueError, match="at least 2 views"):
        wmse_loss([z], w_size=8)
    with pytest.raises(ValueError, match="equal shape"):
        wmse_loss([z, torch.randn(16, 5)], w_size=8)

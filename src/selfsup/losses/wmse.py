"""W-MSE's whitening loss (Ermolov, Siarohin, Sangineto, Sebe 2021, "Whitening for
Self-Supervised Representation Learning", ICML).

W-MSE avoids collapse without negatives by *whitening* the embeddings of a batch (zero mean,
identity covariance) before pulling positives together with an MSE: whitened embeddings
cannot all coincide, and their dimensions cannot be redundant.

Whitening statistics are **not gathered across processes**, on purpose. The paper whitens
sub-batches of ``w_size`` samples drawn from the batch ("batch slicing", Section 3), and
the loss is a mean over sub-batches; the global batch size never enters the objective. Each
process forms its sub-batches from its own samples, which is the same objective as one
process forming them from the global batch with sub-batches that happen not to straddle
process boundaries — and the sampler assigns samples to processes at random, so the two are
the same in distribution. :func:`wmse_loss` on a batch equals the mean of :func:`wmse_loss`
on its sub-batches (``tests/losses/test_whitening.py`` checks it), so W processes of ``B``
samples optimise the mean over ``W * B / w_size`` sub-batches, as one process of ``W * B``
would. Gathering would only add communication and a larger Cholesky factorisation. The one
requirement: every process must hold at least ``w_size`` samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def whiten(z: Tensor, eps: float = 0.0) -> Tensor:
    r"""Cholesky whitening of a batch of embeddings (W-MSE, Ermolov et al. 2021, Section 3).

    .. math::
        \Sigma = \frac{1}{N - 1} \sum_b (z_b - \mu)(z_b - \mu)^\top, \qquad
        (1 - \epsilon) \Sigma + \epsilon I = L L^\top, \qquad
        \hat z_b = L^{-1} (z_b - \mu)

    With ``eps = 0`` the output has zero mean and identity (unbiased) covariance; ``eps``
    shrinks the covariance towards the identity for stability (the released code's
    ``w_eps``). Gradients flow through :math:`\mu` and :math:`L` (the paper backpropagates
    through the whitening). Computed in at least float32, outside autocast: a Cholesky
    factorisation in half precision is not reliable.

    Args:
        z: ``[N, D]`` embeddings; needs ``N > D`` for a full-rank covariance when ``eps = 0``.
        eps: shrinkage :math:`\epsilon \in [0, 1)`.

    Returns:
        ``[N, D]`` whitened embeddings (float32 or float64).

    Raises:
        ValueError: bad shape, or a covariance that is not positive definite.

    Example:
        >>> w = whiten(torch.randn(128, 16))
        >>> torch.allclose(torch.cov(w.T), torch.eye(16), atol=1e-4)
        True
    """
    if z.dim() != 2 or z.shape[0] < 2:
        raise ValueError(f"whiten expects [N, D] embeddings with N >= 2, got {tuple(z.shape)}")
    if not 0.0 <= eps < 1.0:
        raise ValueError(f"whitening eps must be in [0, 1), got {eps}")
    if z.dtype not in (torch.float32, torch.float64):
        z = z.float()
    n, d = z.shape
    with torch.autocast(device_type=z.device.type, enabled=False):
        centred = z - z.mean(dim=0, keepdim=True)
        covariance = centred.T @ centred / (n - 1)
        eye = torch.eye(d, dtype=z.dtype, device=z.device)
        cholesky, info = torch.linalg.cholesky_ex((1.0 - eps) * covariance + eps * eye)
        if bool(info.any()):
            raise ValueError(
                f"whiten: the covariance of {n} embeddings in {d} dimensions is not positive "
                "definite. Use more samples than dimensions (W-MSE: w_size > projector_dim) "
                "or a larger eps."
            )
        # L^{-1} (z - mu) for every row, as one triangular solve.
        return torch.linalg.solve_triangular(cholesky, centred.T, upper=False).T


def _normalized_mse(a: Tensor, b: Tensor) -> Tensor:
    # ||a/|a| - b/|b|||^2 = 2 - 2 cos(a, b), mean over rows (the released code's norm_mse_loss).
    return (2.0 - 2.0 * F.cosine_similarity(a, b, dim=-1)).mean()


def wmse_loss(
    views: Sequence[Tensor],
    w_size: int = 128,
    w_iter: int = 1,
    eps: float = 1e-4,
    shuffle: bool = True,
) -> Tensor:
    r"""W-MSE loss of ``d >= 2`` views (Ermolov et al. 2021, Section 3: the MSE of
    whitened, l2-normalised positives, with batch slicing).

    For every one of ``w_iter`` random partitions of the batch into sub-batches of (about)
    ``w_size`` samples, each view's embeddings are whitened per sub-batch (:func:`whiten`:
    the same samples, view by view), then every pair of views is compared with the MSE of
    the l2-normalised whitened embeddings:

    .. math::
        \mathcal{L} = \frac{1}{w_{iter}\binom{d}{2}} \sum_{it} \sum_{i < j}
            \frac{1}{N} \sum_b \Big\| \frac{\hat z^i_b}{\|\hat z^i_b\|}
                                   - \frac{\hat z^j_b}{\|\hat z^j_b\|} \Big\|_2^2

    ``d = 2`` is the paper's W-MSE 2, ``d = 4`` its W-MSE 4 (all 6 pairs). When ``N`` is not
    a multiple of ``w_size`` the ``N // w_size`` sub-batches share the remainder (sizes
    differ by at most one); the released code requires an exact multiple.

    Not gathered across processes: see the module docstring.

    Args:
        views: ``d`` tensors ``[N, D]``; row ``b`` of every view comes from the same sample.
        w_size: sub-batch size; must exceed ``D`` (with ``eps = 0``) and not exceed ``N``.
        w_iter: number of random partitions averaged.
        eps: whitening shrinkage (see :func:`whiten`).
        shuffle: draw the partition at random (the paper); ``False`` takes consecutive
            rows, which makes the sub-batches deterministic (for tests).

    Returns:
        Scalar loss in ``[0, 4]``.

    Example:
        >>> z1, z2 = torch.randn(256, 64), torch.randn(256, 64)
        >>> loss = wmse_loss([z1, z2], w_size=128)
    """
    views = list(views)
    if len(views) < 2:
        raise ValueError(f"wmse_loss needs at least 2 views, got {len(views)}")
    shape = views[0].shape
    if len(shape) != 2 or any(v.shape != shape for v in views):
        raise ValueError("wmse_loss expects views of equal shape [N, D], got "
                         f"{[tuple(v.shape) for v in views]}")
    n = shape[0]
    if w_size < 2 or w_iter < 1:
        raise ValueError(f"wmse_loss needs w_size >= 2 and w_iter >= 1, got {w_size}, {w_iter}")
    if n < w_size:
        raise ValueError(
            f"wmse_loss whitens sub-batches of w_size={w_size} samples but the batch (per "
            f"process) has only {n}; raise the batch size or lower w_size"
        )
    num_sub_batches = n // w_size
    num_pairs = len(views) * (len(views) - 1) // 2
    total = views[0].new_zeros((), dtype=torch.float32 if views[0].dtype != torch.float64
                               else torch.float64)
    for _ in range(w_iter):
        order = torch.randperm(n, device=views[0].device) if shuffle else torch.arange(
            n, device=views[0].device)
        sub_batches = torch.tensor_split(order, num_sub_batches)
        # Rows come out in partition order, the same for every view, so pairs stay aligned.
        whitened = [torch.cat([whiten(v[idx], eps) for idx in sub_batches]) for v in views]
        for i in range(len(views)):
            for j in range(i + 1, len(views)):
                total = total + _normalized_mse(whitened[i], whitened[j])
    return total / (w_iter * num_pairs)


class WMSELoss(nn.Module):
    """Module form of :func:`wmse_loss` (Ermolov et al. 2021).

    Shapes: ``views``: a list of ``d >= 2`` tensors ``[N, D]`` -> scalar.
    """

    def __init__(self, w_size: int = 128, w_iter: int = 1, eps: float = 1e-4) -> None:
        super().__init__()
        self.w_size = w_size
        self.w_iter = w_iter
        self.eps = eps

    def forward(self, views: Sequence[Tensor]) -> Tensor:
        return wmse_loss(views, self.w_size, self.w_iter, self.eps)

    def extra_repr(self) -> str:
        return f"w_size={self.w_size}, w_iter={self.w_iter}, eps={self.eps}"

"""Redundancy-reduction losses: Barlow Twins and VICReg (Mixed Barlow Twins, built on
Barlow Twins, is in :mod:`selfsup.losses.mixed_barlow`).

They need statistics over the batch dimension (a cross-correlation, a standard deviation, a
covariance). Over several processes they are computed on the *global* batch, gathered with
the autograd-aware :func:`selfsup.nn.gather.gather`, so ``W`` processes with ``B`` samples
each optimise the same objective, with the same gradients, as one process with ``W * B``
samples. (W-MSE's whitening is in :mod:`selfsup.losses.whitening`; SimSiam's per-sample
negative cosine in :mod:`selfsup.losses.regression`.)

Each loss has a ``*_terms`` function returning a dict (``"loss"`` plus the components a
method logs), a ``*_loss`` function returning the scalar, and an ``nn.Module``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.nn.gather import gather
from selfsup.validate import check_pair


def _off_diagonal(m: Tensor) -> Tensor:
    """The off-diagonal entries of a square ``[D, D]`` matrix, flattened."""
    return m[~torch.eye(m.shape[0], dtype=torch.bool, device=m.device)]


# --------------------------------------------------------------------------- Barlow Twins


def barlow_twins_terms(
    z1: Tensor, z2: Tensor, lambda_offdiag: float = 5e-3, eps: float = 1e-5
) -> dict[str, Tensor]:
    r"""Barlow Twins loss and its two terms (Zbontar et al. 2021, "Barlow Twins:
    Self-Supervised Learning via Redundancy Reduction", eq. 1-2).

    .. math::
        \mathcal{L} = \sum_i (1 - C_{ii})^2 + \lambda \sum_i \sum_{j \ne i} C_{ij}^2,
        \qquad C_{ij} = \frac{1}{N} \sum_b \hat z^A_{b,i} \hat z^B_{b,j}

    where :math:`\hat z` is ``z`` standardised along the batch (zero mean, unit biased
    variance; ``eps`` guards constant dimensions) — the normalised cross-correlation of eq. 2.
    ``N`` is the global batch: both inputs are gathered across processes first, so the loss
    is the same value on every process.

    Args:
        z1: ``[B, D]`` projections of the first view.
        z2: ``[B, D]`` projections of the second view.
        lambda_offdiag: :math:`\lambda`, weight of the redundancy-reduction term
            (5e-3 in the paper, Section 2 "Implementation details", chosen for a
            ``D = 8192`` projector; the off-diagonal sum grows as ``D^2``).
        eps: added to the variance before the square root.

    Returns:
        ``{"loss", "on_diagonal", "off_diagonal"}``; ``off_diagonal`` is unweighted.
    """
    check_pair("barlow_twins_loss", z1, z2)
    return _barlow_twins_terms(gather(z1), gather(z2), lambda_offdiag, eps)


def _barlow_twins_terms(
    z1: Tensor, z2: Tensor, lambda_offdiag: float, eps: float
) -> dict[str, Tensor]:
    """:func:`barlow_twins_terms` of the global batch, already gathered: ``z1, z2: [N, D]``."""
    n = z1.shape[0]
    z1 = (z1 - z1.mean(0)) / torch.sqrt(z1.var(0, unbiased=False) + eps)
    z2 = (z2 - z2.mean(0)) / torch.sqrt(z2.var(0, unbiased=False) + eps)
    c = z1.T @ z2 / n  # [D, D]
    on_diagonal = (1.0 - torch.diagonal(c)).pow(2).sum()
    off_diagonal = _off_diagonal(c).pow(2).sum()
    loss = on_diagonal + lambda_offdiag * off_diagonal
    return {"loss": loss, "on_diagonal": on_diagonal, "off_diagonal": off_diagonal}


def barlow_twins_loss(
    z1: Tensor, z2: Tensor, lambda_offdiag: float = 5e-3, eps: float = 1e-5
) -> Tensor:
    """Scalar Barlow Twins loss; see :func:`barlow_twins_terms`.

    Example:
        >>> loss = barlow_twins_loss(torch.randn(32, 64), torch.randn(32, 64))
    """
    return barlow_twins_terms(z1, z2, lambda_offdiag, eps)["loss"]


class BarlowTwinsLoss(nn.Module):
    """Module form of :func:`barlow_twins_loss` (Zbontar et al. 2021, eq. 1).

    Shapes: ``z1: [B, D]``, ``z2: [B, D]`` -> scalar.
    """

    def __init__(self, lambda_offdiag: float = 5e-3, eps: float = 1e-5) -> None:
        super().__init__()
        self.lambda_offdiag = lambda_offdiag
        self.eps = eps

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return barlow_twins_loss(z1, z2, self.lambda_offdiag, self.eps)


# --------------------------------------------------------------------------------- VICReg


def _variance(z: Tensor, gamma: float, eps: float) -> Tensor:
    # v(Z) = 1/d sum_j max(0, gamma - sqrt(Var(z^j) + eps)), eq. 1 of VICReg.
    std = torch.sqrt(z.var(0) + eps)
    return F.relu(gamma - std).mean()


def _covariance(z: Tensor) -> Tensor:
    # c(Z) = 1/d sum_{i != j} C(Z)_{ij}^2, with C the (unbiased) covariance, eq. 3-4.
    n, d = z.shape
    z = z - z.mean(0)
    cov = z.T @ z / (n - 1)
    return _off_diagonal(cov).pow(2).sum() / d


def vicreg_terms(
    z1: Tensor,
    z2: Tensor,
    invariance_weight: float = 25.0,
    variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> dict[str, Tensor]:
    r"""VICReg loss and its three terms (Bardes, Ponce, LeCun 2022, "VICReg:
    Variance-Invariance-Covariance Regularization for Self-Supervised Learning", eq. 6).

    .. math::
        \ell(Z, Z') = \lambda\, s(Z, Z') + \mu\, [v(Z) + v(Z')] + \nu\, [c(Z) + c(Z')]

    * invariance :math:`s = \frac{1}{N}\sum_b \|z_b - z'_b\|^2 / d` — the element-wise MSE,
      computed on this process's pairs (it is per-sample, so the mean over processes is the
      global MSE);
    * variance
      :math:`v(Z) = \frac{1}{d}\sum_j \max(0, \gamma - \sqrt{\mathrm{Var}(z^j) + \epsilon})`;
    * covariance :math:`c(Z) = \frac{1}{d}\sum_{i \ne j} C(Z)_{ij}^2`;

    variance and covariance are statistics of the global batch, gathered across processes.

    Note: this follows the paper's eq. 6 (variance terms summed). The authors' released code
    averages the two variance terms (divides by 2); halve ``variance_weight`` to match it.

    Args:
        z1: ``[B, D]`` embeddings ("expander" outputs) of the first view.
        z2: ``[B, D]`` embeddings of the second view.
        invariance_weight: :math:`\lambda` (25 in the paper's implementation details).
        variance_weight: :math:`\mu` (25 in the paper).
        covariance_weight: :math:`\nu` (1 in the paper).
        gamma: target standard deviation :math:`\gamma` (1 in the paper).
        eps: :math:`\epsilon` in the standard deviation (1e-4 in the paper).

    Returns:
        ``{"loss", "invariance", "variance", "covariance"}``; components are unweighted.
    """
    check_pair("vicreg_loss", z1, z2)
    invariance = F.mse_loss(z1, z2)
    z1_all = gather(z1)
    z2_all = gather(z2)
    if z1_all.shape[0] < 2:
        raise ValueError("vicreg_loss needs at least 2 samples in the (global) batch")
    variance = _variance(z1_all, gamma, eps) + _variance(z2_all, gamma, eps)
    covariance = _covariance(z1_all) + _covariance(z2_all)
    loss = (
        invariance_weight * invariance
        + variance_weight * variance
        + covariance_weight * covariance
    )
    return {
        "loss": loss,
        "invariance": invariance,
        "variance": variance,
        "covariance": covariance,
    }


def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    invariance_weight: float = 25.0,
    variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    """Scalar VICReg loss; see :func:`vicreg_terms`.

    Example:
        >>> loss = vicreg_loss(torch.randn(32, 64), torch.randn(32, 64))
    """
    return vicreg_terms(
        z1, z2, invariance_weight, variance_weight, covariance_weight, gamma, eps
    )["loss"]


class VICRegLoss(nn.Module):
    """Module form of :func:`vicreg_loss` (Bardes et al. 2022, eq. 6).

    Shapes: ``z1: [B, D]``, ``z2: [B, D]`` -> scalar.
    """

    def __init__(
        self,
        invariance_weight: float = 25.0,
        variance_weight: float = 25.0,
        covariance_weight: float = 1.0,
        gamma: float = 1.0,
        eps: float = 1e-4,
    ) -> None:
        super().__init__()
        self.invariance_weight = invariance_weight
        self.variance_weight = variance_weight
        self.covariance_weight = covariance_weight
        self.gamma = gamma
        self.eps = eps

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return vicreg_loss(
            z1, z2, self.invariance_weight, self.variance_weight,
            self.covariance_weight, self.gamma, self.eps,
        )


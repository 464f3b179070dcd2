"""VICReg's variance-invariance-covariance loss (Bardes, Ponce, LeCun 2022).

Variance and covariance are statistics of the *global* batch: over several processes the
embeddings are gathered with the autograd-aware :func:`selfsup.nn.gather.gather`, so ``W``
processes with ``B`` samples each optimise the same objective, with the same gradients, as one
process with ``W * B`` samples. :func:`vicreg_terms` returns a dict (``"loss"`` plus the
components a method logs), :func:`vicreg_loss` the scalar, :class:`VICRegLoss` is the module
form.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.losses.barlow_twins import off_diagonal_entries
from selfsup.nn.gather import gather
from selfsup.validate import check_pair


def _variance(z: Tensor, gamma: float, eps: float) -> Tensor:
    # v(Z) = 1/d sum_j max(0, gamma - sqrt(Var(z^j) + eps)), eq. 1 of VICReg.
    std = torch.sqrt(z.var(0) + eps)
    return F.relu(gamma - std).mean()


def _covariance(z: Tensor) -> Tensor:
    # c(Z) = 1/d sum_{i != j} C(Z)_{ij}^2, with C the (unbiased) covariance, eq. 3-4.
    n, d = z.shape
    z = z - z.mean(0)
    cov = z.T @ z / (n - 1)
    return off_diagonal_entries(cov).pow(2).sum() / d


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

"""Barlow Twins' redundancy-reduction loss (Zbontar et al. 2021): the cross-correlation of two
views' batch-standardised projections is pushed towards the identity.

The cross-correlation is a statistic of the *global* batch: over several processes the
projections are gathered with the autograd-aware :func:`selfsup.nn.gather.gather`, so ``W``
processes with ``B`` samples each optimise the same objective, with the same gradients, as one
process with ``W * B`` samples. :func:`barlow_twins_terms` returns a dict (``"loss"`` plus the
components a method logs), :func:`barlow_twins_loss` the scalar, :class:`BarlowTwinsLoss` is
the module form. Mixed Barlow Twins, built on it, is in
:mod:`selfsup.losses.mixed_barlow_twins`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from selfsup.nn.gather import gather
from selfsup.validate import check_pair


def off_diagonal_entries(m: Tensor) -> Tensor:
    """The off-diagonal entries of a square ``[D, D]`` matrix, flattened to ``[D * (D - 1)]``."""
    return m[~torch.eye(m.shape[0], dtype=torch.bool, device=m.device)]


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
    return gathered_barlow_twins_terms(gather(z1), gather(z2), lambda_offdiag, eps)


def gathered_barlow_twins_terms(
    z1: Tensor, z2: Tensor, lambda_offdiag: float, eps: float
) -> dict[str, Tensor]:
    """:func:`barlow_twins_terms` of the global batch, already gathered: ``z1, z2: [N, D]``.

    For a loss that gathers the projections once and uses them for more than Barlow Twins
    (Mixed Barlow Twins); it gathers nothing itself and checks nothing.
    """
    n = z1.shape[0]
    z1 = (z1 - z1.mean(0)) / torch.sqrt(z1.var(0, unbiased=False) + eps)
    z2 = (z2 - z2.mean(0)) / torch.sqrt(z2.var(0, unbiased=False) + eps)
    c = z1.T @ z2 / n  # [D, D]
    on_diagonal = (1.0 - torch.diagonal(c)).pow(2).sum()
    off_diagonal = off_diagonal_entries(c).pow(2).sum()
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

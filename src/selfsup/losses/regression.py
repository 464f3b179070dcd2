"""Regression losses between a prediction and a (stop-gradient) target.

* BYOL's normalized mean squared error (Grill et al. 2020, "Bootstrap Your Own Latent: A New
  Approach to Self-Supervised Learning", eq. 2).
* SimSiam's negative cosine similarity (Chen & He 2021, "Exploring Simple Siamese
  Representation Learning", eq. 1 and 3), which applies the stop-gradient itself.

Both are per-sample: no cross-process gather.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.validate import check_pair


def byol_loss(p: Tensor, z: Tensor) -> Tensor:
    r"""Normalized MSE, :math:`\| \bar p - \bar z \|_2^2 = 2 - 2 \cos(p, z)`, mean over the batch.

    The loss is local to each sample, so it needs no cross-process gather. The caller is
    responsible for the stop-gradient on the target ``z`` (BYOL computes it with the EMA
    teacher under ``torch.no_grad``).

    Args:
        p: ``[B, D]`` online predictions :math:`q_\theta(z_\theta)`.
        z: ``[B, D]`` target projections :math:`z'_\xi`.

    Returns:
        Scalar in ``[0, 4]``.

    Example:
        >>> loss = byol_loss(predictor(projector(h1)), teacher_z2)  # doctest: +SKIP
    """
    if p.shape != z.shape:
        raise ValueError(
            f"byol_loss expects equal shapes, got {tuple(p.shape)} and {tuple(z.shape)}"
        )
    return (2.0 - 2.0 * F.cosine_similarity(p, z, dim=-1)).mean()


class BYOLLoss(nn.Module):
    """Module form of :func:`byol_loss` (BYOL, Grill et al. 2020, eq. 2).

    Shapes: ``p: [B, D]``, ``z: [B, D]`` -> scalar.
    """

    def forward(self, p: Tensor, z: Tensor) -> Tensor:
        return byol_loss(p, z)


def simsiam_loss(p: Tensor, z: Tensor) -> Tensor:
    r"""SimSiam's negative cosine similarity with stop-gradient (Chen & He 2021, "Exploring
    Simple Siamese Representation Learning", eq. 1 and 3).

    .. math::
        \mathcal{D}(p, \mathrm{stopgrad}(z)) = -\frac{p}{\|p\|_2} \cdot \frac{z}{\|z\|_2},

    averaged over the batch. The stop-gradient is applied here (``z.detach()``, as in the
    paper's Algorithm 1): ``z`` is a constant target, and without it SimSiam collapses
    (Section 4.1). The symmetrised loss of eq. 4 is
    ``0.5 * simsiam_loss(p1, z2) + 0.5 * simsiam_loss(p2, z1)``. Per sample: no gather.

    Args:
        p: ``[B, D]`` predictions :math:`h(f(x_1))`.
        z: ``[B, D]`` projections :math:`f(x_2)` of the other view (receives no gradient).

    Returns:
        Scalar in ``[-1, 1]``.

    Example:
        >>> loss = 0.5 * simsiam_loss(p1, z2) + 0.5 * simsiam_loss(p2, z1)  # doctest: +SKIP
    """
    check_pair("simsiam_loss", p, z)
    return -F.cosine_similarity(p, z.detach(), dim=-1).mean()


class SimSiamLoss(nn.Module):
    """Symmetrised SimSiam loss (Chen & He 2021, eq. 4) of :func:`simsiam_loss`.

    Shapes: ``p1, p2, z1, z2: [B, D]`` -> scalar; ``z1, z2`` receive no gradient.
    """

    def forward(self, p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
        return 0.5 * simsiam_loss(p1, z2) + 0.5 * simsiam_loss(p2, z1)

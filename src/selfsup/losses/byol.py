"""BYOL's normalized mean squared error between a prediction and an EMA teacher's target
(Grill et al. 2020, "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
eq. 2). Per sample: no cross-process gather.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


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

r"""CCA-SSG's loss (Zhang, Wu, Yang, Yu 2021, "From Canonical Correlation Analysis to
Self-supervised Graph Neural Networks", NeurIPS, eq. 7): the two views' standardised embeddings
agree (invariance) while each view's dimensions stay decorrelated (a soft CCA constraint).

The standardisation is over the batch: with several processes each standardises its own nodes
(no gather), as the paper's full-graph batches never need.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from selfsup.validate import check_pair, check_weight


def standardize(z: Tensor, eps: float = 1e-5) -> Tensor:
    r"""Each dimension of ``z [N, D]`` centred and scaled to unit (biased) variance over the batch,
    then divided by :math:`\sqrt N`, so that :math:`\tilde Z^\top \tilde Z` is the correlation
    matrix: a batch norm without affine parameters, scaled (the paper's :math:`\tilde Z`)."""
    centred = z - z.mean(0)
    return centred / torch.sqrt(centred.pow(2).mean(0) + eps) / z.shape[0] ** 0.5


def cca_ssg_terms(z1: Tensor, z2: Tensor, decorrelation_weight: float = 1e-3) -> dict[str, Tensor]:
    r"""The loss of eq. 7 and its two terms:

    .. math::
        \mathcal{L} = \underbrace{\| \tilde Z_A - \tilde Z_B \|_F^2}_{\text{invariance}}
            + \lambda \underbrace{\Big( \| \tilde Z_A^\top \tilde Z_A - I \|_F^2
            + \| \tilde Z_B^\top \tilde Z_B - I \|_F^2 \Big)}_{\text{decorrelation}}

    with :math:`\tilde Z` the embeddings standardised by :func:`standardize`.

    Args:
        z1: ``[N, D]`` embeddings of view A (N >= 2: the standardisation is over the batch).
        z2: ``[N, D]`` embeddings of the same nodes in view B.
        decorrelation_weight: :math:`\lambda`, ``>= 0``.

    Returns:
        ``{"loss", "invariance", "decorrelation"}`` (the last unweighted), scalars.

    Example:
        >>> z = torch.randn(64, 8)
        >>> cca_ssg_terms(z, z)["invariance"]
        tensor(0.)
    """
    check_pair("cca_ssg_loss", z1, z2)
    check_weight(decorrelation_weight, "decorrelation_weight")
    if z1.shape[0] < 2:
        raise ValueError(f"cca_ssg_loss standardises over the batch and needs at least 2 rows, got {z1.shape[0]}")
    a, b = standardize(z1), standardize(z2)
    identity = torch.eye(a.shape[1], device=a.device, dtype=a.dtype)
    invariance = (a - b).pow(2).sum()
    decorrelation = (a.T @ a - identity).pow(2).sum() + (b.T @ b - identity).pow(2).sum()
    return {"loss": invariance + decorrelation_weight * decorrelation,
            "invariance": invariance, "decorrelation": decorrelation}


def cca_ssg_loss(z1: Tensor, z2: Tensor, decorrelation_weight: float = 1e-3) -> Tensor:
    """The scalar loss of :func:`cca_ssg_terms` (shapes ``[N, D]``, ``[N, D]`` -> scalar)."""
    return cca_ssg_terms(z1, z2, decorrelation_weight)["loss"]


class CCASSGLoss(nn.Module):
    """Module form of :func:`cca_ssg_loss` (Zhang et al. 2021, eq. 7).

    Shapes: ``z1: [N, D]``, ``z2: [N, D]`` -> scalar.
    """

    def __init__(self, decorrelation_weight: float = 1e-3) -> None:
        super().__init__()
        self.decorrelation_weight = check_weight(decorrelation_weight, "decorrelation_weight")

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return cca_ssg_loss(z1, z2, self.decorrelation_weight)

"""Barlow Twins: push the cross-correlation of two views' projections towards the identity.

Redundancy reduction instead of negatives; VICReg (:mod:`selfsup.methods.vicreg`) and Mixed
Barlow Twins (:mod:`selfsup.methods.mixed_barlow_twins`) are its relatives.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.losses.barlow_twins import barlow_twins_terms
from selfsup.methods.base import Method, detach_logs
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS
from selfsup.validate import check_weight


@METHODS.register(
    "barlow_twins",
    family="redundancy reduction",
    paper="Zbontar et al. 2021, Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
)
class BarlowTwins(Method):
    r"""Barlow Twins (Zbontar, Jing, Misra, LeCun, Deny 2021).

    The cross-correlation matrix :math:`\mathcal{C}` of the batch-standardised projections of
    two views, computed over the global batch, is pushed towards the identity (eq. 1):

    .. math::
        \mathcal{L} = \sum_i (1 - \mathcal{C}_{ii})^2
                    + \lambda \sum_i \sum_{j \ne i} \mathcal{C}_{ij}^2

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: width of the two hidden layers of the projector.
        projector_dim: output width of the projector.
        lambda_offdiag: :math:`\lambda`, weight of the redundancy-reduction term.

    Paper defaults vs. library defaults (Section 2, "Implementation details"):
        * projector: three linear layers of 8192 units, BN + ReLU after the first two.
          Library: 2048-2048-2048 (the paper's projector-width ablation finds accuracy still
          rising with width, so narrow projectors trade some accuracy for speed).
        * :math:`\lambda = 5 \cdot 10^{-3}`. Library: same.
        * batch 2048 with LARS, 1000 epochs; the engine chooses the optimiser.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 2048,
        projector_dim: int = 2048,
        lambda_offdiag: float = 5e-3,
    ) -> None:
        super().__init__(encoder, views)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=3)
        self.lambda_offdiag = check_weight(lambda_offdiag, "lambda_offdiag")

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        z1 = self.projector(self.encoder(v1["x"]))
        z2 = self.projector(self.encoder(v2["x"]))
        return detach_logs(barlow_twins_terms(z1, z2, self.lambda_offdiag))

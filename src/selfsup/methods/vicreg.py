"""VICReg: variance, invariance and covariance terms on two views' embeddings."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.losses.vicreg import vicreg_terms
from selfsup.methods.base import Method, detach_logs
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS
from selfsup.validate import check_weight


@METHODS.register(
    "vicreg",
    family="redundancy reduction",
    paper="Bardes et al. 2022, VICReg: Variance-Invariance-Covariance Regularization for "
    "Self-Supervised Learning",
)
class VICReg(Method):
    r"""VICReg (Bardes, Ponce, LeCun 2022).

    Three terms on the "expander" outputs :math:`Z, Z'` of two views (eq. 6):

    .. math::
        \ell = \lambda\, s(Z, Z') + \mu\, [v(Z) + v(Z')] + \nu\, [c(Z) + c(Z')]

    invariance :math:`s` (MSE between paired embeddings), variance :math:`v` (hinge keeping
    each dimension's standard deviation above :math:`\gamma`, eq. 1) and covariance
    :math:`c` (squared off-diagonal covariances / d, eq. 4); variance and covariance are
    computed over the global batch. The three unweighted terms are returned for logging.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: width of the two hidden layers of the expander.
        projector_dim: output width of the expander.
        invariance_weight: :math:`\lambda`.
        variance_weight: :math:`\mu`.
        covariance_weight: :math:`\nu`.

    Paper defaults vs. library defaults (the paper's ImageNet implementation details):
        * expander: three linear layers of 8192 units, BN + ReLU after the first two.
          Library: 2048-2048-2048.
        * :math:`\lambda = \mu = 25`, :math:`\nu = 1`, :math:`\gamma = 1`,
          :math:`\epsilon = 10^{-4}`. Library: same (eq. 6 as written; the released code
          halves the variance term, see :func:`selfsup.losses.vicreg.vicreg_terms`).
        * batch 2048 with LARS, 1000 epochs; the engine chooses the optimiser.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 2048,
        projector_dim: int = 2048,
        invariance_weight: float = 25.0,
        variance_weight: float = 25.0,
        covariance_weight: float = 1.0,
    ) -> None:
        super().__init__(encoder, views)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=3)
        self.invariance_weight = check_weight(invariance_weight, "invariance_weight")
        self.variance_weight = check_weight(variance_weight, "variance_weight")
        self.covariance_weight = check_weight(covariance_weight, "covariance_weight")

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        z1 = self.projector(self.encoder(v1["x"]))
        z2 = self.projector(self.encoder(v2["x"]))
        terms = vicreg_terms(
            z1,
            z2,
            invariance_weight=self.invariance_weight,
            variance_weight=self.variance_weight,
            covariance_weight=self.covariance_weight,
        )
        return detach_logs(terms)

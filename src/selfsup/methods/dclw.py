"""DCLW, weighted Decoupled Contrastive Learning: DCL with von Mises-Fisher weighted positives."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from selfsup.losses.dcl import dcl_loss, vmf_weights
from selfsup.methods.dcl import DCL
from selfsup.methods.projection_method import positive_cosine
from selfsup.registry import METHODS
from selfsup.validate import check_positive


@METHODS.register(
    "dclw", family="contrastive", paper="Yeh et al. 2022, Decoupled Contrastive Learning"
)
class DCLW(DCL):
    r"""DCLW, weighted Decoupled Contrastive Learning (Yeh et al. 2022, ECCV).

    :class:`~selfsup.methods.dcl.DCL` with the positive term of each pair weighted by a negative
    von Mises-Fisher weight (:func:`~selfsup.losses.dcl.vmf_weights`):

    .. math::
        w_i = 2 - \frac{\exp(\langle z^{(1)}_i, z^{(2)}_i\rangle/\sigma)}
                      {\mathbb{E}_j[\exp(\langle z^{(1)}_j, z^{(2)}_j\rangle/\sigma)]},
        \qquad \ell^{(k)}_i = -w_i\langle z^{(1)}_i, z^{(2)}_i\rangle/\tau + \log\sum\cdots

    The expectation is over the positive pairs of the (global) batch, so the weights average
    to 1 and pairs whose views are far apart (hard positives) pull harder.

    Args:
        encoder, views, projector_hidden_dim, projector_dim, temperature: as
            :class:`~selfsup.methods.dcl.DCL`.
        sigma: :math:`\sigma` of the weighting function.

    Paper defaults vs. library defaults:
        * :math:`\sigma = 0.5` (the paper's choice for DCLW, also the authors' code). Library: 0.5.
        * temperature and head as :class:`~selfsup.methods.dcl.DCL`. Library: 0.1, hidden 512,
          output 128.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        temperature: float = 0.1,
        sigma: float = 0.5,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)
        check_positive(sigma=sigma)
        self.sigma = sigma

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z1, z2 = self.project(batch)
        weights = vmf_weights(z1, z2, self.sigma)
        loss = dcl_loss(z1, z2, self.temperature, weights=weights)
        return {
            "loss": loss,
            "positive_cosine": positive_cosine(z1, z2),
            "weight_min": weights.min(),
        }

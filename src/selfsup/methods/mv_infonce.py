"""MV-InfoNCE: SimCLR's pipeline with more than two views and one loss term per sample."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from selfsup.losses.mv_infonce import mv_infonce_loss
from selfsup.methods.projection_method import ProjectionMethod, positive_cosine
from selfsup.registry import METHODS


@METHODS.register(
    "mv_infonce",
    family="contrastive",
    paper="Koromilas et al. 2025, A Principled Framework for Multi-View Contrastive Learning",
)
class MVInfoNCE(ProjectionMethod):
    r"""MV-InfoNCE (Koromilas, Georgiou, Bouritsas, Giannakopoulos, Nicolaou, Panagakis 2025).

    :math:`V > 2` views of every sample, and *one* loss term per sample that aligns all of its
    views at once instead of a sum of pairwise InfoNCE losses
    (:func:`~selfsup.losses.mv_infonce.mv_infonce_loss`):

    .. math::
        \ell_i = -\log \frac{\sum_{l}\sum_{l' \ne l} e^{U_{i,l}^\top U_{i,l'}/\tau}}
            {\sum_{l}\sum_{(j,m) \ne (i,l)} e^{U_{i,l}^\top U_{j,m}/\tau}},\qquad U = g(f(x))

    With ``num_views=2`` it is InfoNCE with the arithmetic mean of the two anchors' NT-Xent
    denominators (NT-Xent takes their geometric mean), so it is never below NT-Xent and equals
    it when both views of every sample see the same denominator.

    Args:
        encoder, views, projector_hidden_dim, projector_dim: as :class:`~selfsup.methods.dcl.DCL`.
        num_views: :math:`V \ge 2` views per sample.
        temperature: :math:`\tau`.

    Paper defaults vs. library defaults:
        * :math:`V = 4` (the main multi-view results), :math:`\tau = 0.5` with batch 256 on
          CIFAR (the authors' ``cifar_train_epochs200_bs256_05`` config), SimCLR's head.
          Library: 4 views, 0.5, hidden 512, output 128.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        num_views: int = 4,
        temperature: float = 0.5,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)
        if not (isinstance(num_views, int) and num_views >= 2):
            raise ValueError(f"num_views must be an integer >= 2, got {num_views}")
        self.num_views = num_views

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z = self.project(batch, self.num_views)
        loss = mv_infonce_loss(z, self.temperature)
        return {"loss": loss, "positive_cosine": positive_cosine(z[0], z[1])}

"""SupCon, Supervised Contrastive Learning: the labelled reference of the contrastive family
(every view of the same class is a positive; it trains on ``batch["y"]``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.losses.supcon import supcon_loss
from selfsup.methods.projection_method import ProjectionMethod, positive_cosine
from selfsup.registry import METHODS


@METHODS.register(
    "supcon", family="contrastive", paper="Khosla et al. 2020, Supervised Contrastive Learning"
)
class SupCon(ProjectionMethod):
    r"""SupCon, Supervised Contrastive Learning (Khosla et al. 2020, NeurIPS): the labelled
    reference point of the contrastive family. It trains on ``batch["y"]``.

    Every view of the same class is a positive (:math:`L^{sup}_{out}`, eq. 2,
    :func:`~selfsup.losses.supcon.supcon_loss`):

    .. math::
        \mathcal{L} = \sum_{i} \frac{-1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{\exp(z_i \cdot z_p/\tau)}{\sum_{a \in A(i)} \exp(z_i \cdot z_a/\tau)}

    over the :math:`2N` views (mean over anchors here). With one positive per anchor it is
    SimCLR's NT-Xent.

    Args:
        encoder, views, projector_hidden_dim, projector_dim: as :class:`~selfsup.methods.dcl.DCL`.
        temperature: :math:`\tau`.

    Paper defaults vs. library defaults:
        * :math:`\tau = 0.1` (the paper's choice; the authors' code defaults to 0.07 and
          rescales the loss by :math:`\tau / 0.07`, which only changes its scale), projection
          ``2048 -> 128``, batch 6144 with LARS. Library: 0.1, hidden 512, output 128, no
          rescaling.
    """

    uses_labels = True

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        temperature: float = 0.1,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        if "y" not in batch:
            raise KeyError('SupCon is supervised: it needs the labels batch["y"].')
        z1, z2 = self.project(batch)
        labels = torch.as_tensor(batch["y"], device=z1.device).reshape(-1)
        loss = supcon_loss(z1, z2, labels, self.temperature)
        return {"loss": loss, "positive_cosine": positive_cosine(z1, z2)}

"""DCL, Decoupled Contrastive Learning: SimCLR with the positive pair out of the denominator.

The weighted variant DCLW is in :mod:`selfsup.methods.dclw`.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from selfsup.losses.dcl import dcl_loss
from selfsup.methods.projection_method import ProjectionMethod, positive_cosine
from selfsup.registry import METHODS


@METHODS.register(
    "dcl", family="contrastive", paper="Yeh et al. 2022, Decoupled Contrastive Learning"
)
class DCL(ProjectionMethod):
    r"""DCL, Decoupled Contrastive Learning (Yeh, Hong, Hsu, Liu, Chen, LeCun 2022, ECCV).

    SimCLR with the positive pair removed from the InfoNCE denominator (eq. 6,
    :func:`~selfsup.losses.dcl.dcl_loss`):

    .. math::
        \ell^{(k)}_i = -\langle z^{(1)}_i, z^{(2)}_i\rangle/\tau
            + \log \sum_{l \in \{1,2\},\, j \ne i} \exp(\langle z^{(k)}_i, z^{(l)}_j\rangle/\tau)

    The paper shows NT-Xent's gradient is scaled by a "negative-positive coupling" factor
    that becomes small for easy positives or few negatives; removing the positive from the
    denominator removes it, which makes the loss less sensitive to batch size.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: hidden width of the projection head :math:`g`.
        projector_dim: output width of :math:`g`.
        temperature: :math:`\tau`.

    Paper defaults vs. library defaults:
        * SimCLR's projection head and augmentations (the paper changes only the loss).
          Library: hidden 512, output 128, as :class:`~selfsup.methods.SimCLR`.
        * temperature 0.1 (the paper's ImageNet setting and the authors' code default).
          Library: 0.1.
    """

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
        z1, z2 = self.project(batch)
        loss = dcl_loss(z1, z2, self.temperature)
        return {"loss": loss, "positive_cosine": positive_cosine(z1, z2)}

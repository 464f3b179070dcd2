"""Debiased Contrastive Learning: SimCLR's pipeline with the negative term corrected for
same-class "negatives" (a class prior)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from selfsup.losses.debiased import debiased_contrastive_loss
from selfsup.methods.projection_method import ProjectionMethod, positive_cosine
from selfsup.registry import METHODS


@METHODS.register(
    "debiased", family="contrastive", paper="Chuang et al. 2020, Debiased Contrastive Learning"
)
class DebiasedContrastive(ProjectionMethod):
    r"""Debiased Contrastive Learning (Chuang, Robinson, Lin, Torralba, Jegelka 2020, NeurIPS).

    Random "negatives" of an unlabeled batch include samples of the anchor's class with
    probability :math:`\tau^+`. The debiased loss
    (:func:`~selfsup.losses.debiased.debiased_contrastive_loss`) estimates the
    negative term over *true* negatives by subtracting :math:`\tau^+` times the positive:

    .. math::
        \ell = -\log \frac{e^{s^+/t}}{e^{s^+/t} + N' g},\qquad
        g = \max\Big\{\frac{1}{1-\tau^+}\Big(\frac{1}{N'}\sum_k e^{s^-_k/t}
            - \tau^+ e^{s^+/t}\Big),\; e^{-1/t}\Big\}

    over the :math:`N' = 2N - 2` negatives of each of the :math:`2N` anchors. With
    :math:`\tau^+ = 0` it is SimCLR's NT-Xent.

    Args:
        encoder, views, projector_hidden_dim, projector_dim: as :class:`~selfsup.methods.dcl.DCL`.
        temperature: :math:`t`.
        tau_plus: class prior :math:`\tau^+ \in [0, 1)`, the probability that a random sample
            shares the anchor's class (1 / number of classes for balanced data).

    Paper defaults vs. library defaults:
        * :math:`t = 0.5`, :math:`\tau^+ = 0.1` for CIFAR10 (10 balanced classes; the authors'
          code defaults), SimCLR's head with output 128. Library: 0.5, 0.1 (digits also has 10
          balanced classes), hidden 512, output 128.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        temperature: float = 0.5,
        tau_plus: float = 0.1,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)
        if not 0.0 <= tau_plus < 1.0:
            raise ValueError(f"tau_plus must be in [0, 1), got {tau_plus}")
        self.tau_plus = tau_plus

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z1, z2 = self.project(batch)
        loss = debiased_contrastive_loss(z1, z2, self.temperature, self.tau_plus)
        return {"loss": loss, "positive_cosine": positive_cosine(z1, z2)}

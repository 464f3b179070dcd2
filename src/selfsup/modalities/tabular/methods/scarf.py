"""SCARF: contrast each row with a copy whose features are partly replaced by random draws."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.methods.projection_method import positive_cosine
from selfsup.methods.simclr import SimCLR
from selfsup.modalities.tabular.losses.scarf import scarf_loss
from selfsup.registry import METHODS


@METHODS.register(
    "scarf",
    family="contrastive",
    paper="Bahri et al. 2022, SCARF: Self-Supervised Contrastive Learning using Random Feature Corruption",
    modality="tabular",
    default_encoder="tabular_mlp",
    default_views="scarf",
)
class SCARF(SimCLR):
    r"""SCARF (Bahri, Jiang, Tay, Metzler, ICLR 2022).

    For every row :math:`x_i` of the batch, a corrupted view :math:`\tilde x_i` replaces a random
    subset of :math:`\lfloor cM \rceil` of its :math:`M` features with draws from those features'
    empirical marginals (the ``scarf`` views). Original and corrupted rows go through the same
    encoder :math:`f` and pretraining head :math:`g`, and InfoNCE makes each anchor
    :math:`z_i = g(f(x_i))` pick out its own corrupted view among the batch's
    (:func:`~selfsup.modalities.tabular.losses.scarf.scarf_loss`):

    .. math::
        \mathcal{L} = \frac{1}{N}\sum_i -\log \frac{\exp(s(z_i, \tilde z_i)/\tau)}
            {\sum_k \exp(s(z_i, \tilde z_k)/\tau)}, \qquad \tilde z = g(f(\tilde x))

    It is SimCLR's pipeline (a subclass of :class:`~selfsup.methods.simclr.SimCLR`) with one
    view being the row itself and the loss one-sided; with ``scarf`` views SimCLR itself
    (two corrupted views, symmetric NT-Xent) is the close variant the paper also discusses.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` (default ``tabular_mlp``).
        views: the corruption, ``views(batch, 1) -> [corrupted]`` (default ``scarf``).
        projector_hidden_dim / projector_dim: the pretraining head :math:`g`.
        temperature: :math:`\tau`.

    Paper defaults (Section 3, "Implementation details") vs. library defaults:
        * corruption rate :math:`c = 0.6`; library: the same (``scarf`` views).
        * encoder: 4-layer ReLU MLP of width 256; library: the same (``tabular_mlp``, with
          batch norm by default).
        * pretraining head :math:`g`: 2-layer ReLU MLP of width 256; library: 2 layers
          (Linear-BN-ReLU-Linear), hidden 256, output 256.
        * :math:`\tau = 1`; library: the same.
        * batch 128, Adam lr 1e-3, 1,000 epochs with early stopping on a validation loss;
          the engine picks the optimiser, the recipe ``configs/scarf_adult.yaml`` the schedule.
        * marginals of the whole training set; library: of the batch (see the views).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 256,
        projector_dim: int = 256,
        temperature: float = 1.0,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        (corrupted,) = self.views(batch, 1)
        anchor = self.projector(self.encoder(batch["x"]))
        positive = self.projector(self.encoder(corrupted["x"]))
        loss = scarf_loss(anchor, positive, self.temperature)
        return {"loss": loss, "positive_cosine": positive_cosine(anchor, positive)}

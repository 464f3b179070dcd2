"""NNCLR: the positive of a view is the nearest neighbour of its projection in a support set
(a queue of earlier batches' projections)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.losses.nnclr import nnclr_loss
from selfsup.methods.base import Method
from selfsup.methods.checks import check_positive_int, check_temperature, warn_if_queue_covers_data
from selfsup.nn.heads import MLP
from selfsup.nn.queue import Queue
from selfsup.registry import METHODS


@METHODS.register(
    "nnclr",
    family="contrastive",
    paper="Dwibedi et al. 2021, With a Little Help from My Friends: Nearest-Neighbor "
    "Contrastive Learning of Visual Representations",
    view_style="asymmetric",
)
class NNCLR(Method):
    r"""NNCLR (Dwibedi, Aytar, Tompson, Sermanet, Zisserman 2021).

    The positive of a view is not the other view of the same sample but the nearest
    neighbour of its projection in a support set :math:`Q` of projections from earlier
    batches (a FIFO queue); it must pick the other view's prediction among the global
    batch's (eq. 2, with the predictor of Section 3.2, symmetrised):

    .. math::
        \mathcal{L}_i = -\log \frac{\exp(\mathrm{NN}(z_i, Q) \cdot p^+_i / \tau)}
            {\sum_{k=1}^{N} \exp(\mathrm{NN}(z_i, Q) \cdot p^+_k / \tau)},
        \qquad z = g(f(x)),\ p = h(z)

    No momentum encoder; gradients flow through the predictions only (the neighbours are
    stored, detached projections). View 1's projections are enqueued after each step.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2)`` (the paper uses BYOL's augmentations).
        projector_hidden_dim: hidden width of the 3-layer projector :math:`g`.
        projector_dim: output width of :math:`g` and :math:`h`.
        predictor_hidden_dim: hidden width of the predictor :math:`h`.
        temperature: :math:`\tau`.
        support_set_size: :math:`|Q|`.

    Paper defaults vs. library defaults (Section 4, "Implementation details"):
        * projector ``[2048, 2048, 256]`` with BN after every layer; predictor ``[4096, 256]``.
          Library: hidden 1024 for both, output 256.
        * :math:`\tau = 0.1`. Library: the same.
        * :math:`|Q| = 98304` (about 8 % of ImageNet). Library: 512. A support set as large as
          the data set contains an older projection of the sample itself, whose neighbour is
          then most likely itself (NNCLR degrades to SimCLR with a stale positive); on digits
          (1,437 samples) 512 projections (~50 per class) are enough to offer other samples
          of the same class, and about 11 % of samples find an older copy of themselves in
          them. :meth:`prepare` warns when :math:`|Q|` reaches the data-set size.
        * batch 4096, LARS, 1000 epochs; BYOL's augmentations (this method's image views).
          Public reimplementations start ``Q`` with random vectors; here the first step
          (empty support set) uses each projection as its own neighbour instead.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 1024,
        projector_dim: int = 256,
        predictor_hidden_dim: int = 1024,
        temperature: float = 0.1,
        support_set_size: int = 512,
    ) -> None:
        super().__init__(encoder, views)
        for value, name in ((projector_hidden_dim, "projector_hidden_dim"),
                            (projector_dim, "projector_dim"),
                            (predictor_hidden_dim, "predictor_hidden_dim")):
            check_positive_int(value, name)
        self.support_set_size = check_positive_int(support_set_size, "support_set_size")
        self.temperature = check_temperature(temperature)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=3,
                             last_batch_norm=True, last_affine=True)
        self.predictor = MLP(projector_dim, predictor_hidden_dim, projector_dim, num_layers=2)
        self.support_set = Queue(support_set_size, projector_dim)

    def prepare(self, num_samples: int) -> None:
        warn_if_queue_covers_data("nnclr", "support_set_size", self.support_set_size,
                                   num_samples, "its own stale projection is its neighbour")

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        z1 = self.projector(self.encoder(v1["x"]))
        z2 = self.projector(self.encoder(v2["x"]))
        p1 = self.predictor(z1)
        p2 = self.predictor(z2)
        loss = nnclr_loss(z1, z2, p1, p2, self.support_set.values(), self.temperature)
        positive_cosine = F.cosine_similarity(z1, z2, dim=-1).mean().detach()
        if self.training:
            self.support_set.enqueue(F.normalize(z1.detach(), dim=1))
        return {"loss": loss, "positive_cosine": positive_cosine}

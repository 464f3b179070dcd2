"""SimCLR: pull two views of a sample together, push the other samples of the batch apart."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.losses.nt_xent import nt_xent
from selfsup.methods.projection_method import ProjectionMethod, positive_cosine
from selfsup.registry import METHODS


@METHODS.register(
    "simclr",
    family="contrastive",
    paper="Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations",
)
class SimCLR(ProjectionMethod):
    r"""SimCLR (Chen, Kornblith, Norouzi, Hinton 2020).

    Two random views of every sample go through a shared encoder :math:`f` and projection
    head :math:`g`; the NT-Xent loss (eq. 1) makes each view identify its partner among the
    other :math:`2(N - 1)` views of the (global) batch:

    .. math::
        \ell_{i,j} = -\log \frac{\exp(\mathrm{sim}(z_i, z_j)/\tau)}
                               {\sum_{k \ne i} \exp(\mathrm{sim}(z_i, z_k)/\tau)},
        \qquad z = g(f(x))

    Encoder, projection head and temperature are those of
    :class:`~selfsup.methods.projection_method.ProjectionMethod`, which the InfoNCE variants
    (DCL, SupCon, …) share with SimCLR.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: hidden width of :math:`g`.
        projector_dim: output width of :math:`g`.
        temperature: :math:`\tau`.

    Paper defaults vs. library defaults:
        * projection head: 2-layer MLP, hidden 2048 (the ResNet-50 width), output 128
          (Section 2.3, "Default setting"). Library: hidden 512, output 128.
        * temperature: 0.1 for ImageNet with batch 4096 (Table 5), 0.5 for CIFAR-10
          (Appendix B.9). Library: 0.5, which suits the small batches of a CPU run.
        * batch 4096 with LARS; the engine chooses the optimiser.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        temperature: float = 0.5,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        # Algorithm 1: two augmentations t, t' ~ T of every sample.
        v1, v2 = self.views(batch, 2)
        # Representations h = f(x); the views are encoded separately so that any batch
        # structure (padded sequences, graph batches) passes through untouched.
        h1 = self.encoder(v1["x"])
        h2 = self.encoder(v2["x"])
        # Projections z = g(h), on which the loss is defined.
        z1 = self.projector(h1)
        z2 = self.projector(h2)
        loss = nt_xent(z1, z2, self.temperature)
        return {"loss": loss, "positive_cosine": positive_cosine(z1, z2)}

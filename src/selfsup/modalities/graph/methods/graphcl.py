"""GraphCL: contrast two augmented views of each graph against the batch's other graphs."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.methods.base import Method
from selfsup.methods.projection_method import positive_cosine
from selfsup.modalities.graph.losses.graphcl import graphcl_loss
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_positive_number


@METHODS.register(
    "graphcl",
    family="contrastive",
    paper="You et al. 2020, Graph Contrastive Learning with Augmentations",
    modality="graph",
    default_encoder="gin",
    default_views="graphcl_augment",
)
class GraphCL(Method):
    r"""GraphCL (You, Chen, Sui, Chen, Wang, Shen 2020).

    Each graph :math:`\mathcal{G}_n` of a batch of :math:`N` gets two augmented views
    :math:`\hat{\mathcal{G}}_i, \hat{\mathcal{G}}_j`
    (:class:`~selfsup.modalities.graph.views.graphcl.GraphCLAugment`); a shared GNN encoder
    :math:`f` and its readout give a graph-level embedding :math:`h`, a projection head
    :math:`g` (a 2-layer MLP) gives :math:`z = g(h)`, and the loss (eq. 3) makes each first-view
    graph pick out its second view among the second views of the batch's other graphs:

    .. math::
        \ell_n = -\log \frac{\exp(\mathrm{sim}(z_{n,i}, z_{n,j})/\tau)}
            {\sum_{n'=1, n' \ne n}^{N} \exp(\mathrm{sim}(z_{n,i}, z_{n',j})/\tau)}

    (:func:`~selfsup.modalities.graph.losses.graphcl.graphcl_loss`: only inter-view negatives,
    unlike SimCLR's NT-Xent, and no positive in the denominator). Evaluation uses :math:`h`.

    Args:
        encoder: a graph encoder mapping a :class:`Graphs` batch to ``[B, D]`` (``gin``).
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: hidden width of :math:`g`.
        projector_dim: output width of :math:`g`.
        temperature: :math:`\tau`.

    Paper defaults vs. library defaults (Section 4, Appendix; the authors' ``unsupervised_TU``):
        * encoder: GIN, 5 layers of width 32, sum readout of every layer concatenated
          (``D`` = 160). Library: ``gin``, 3 layers of width 128, sum readout of the last.
        * projection head: ``Linear(D, D)-ReLU-Linear(D, D)``. Library: the same form, hidden
          128, output 128 (``D`` of ``gin``).
        * :math:`\tau` = 0.2, augmentation ratio 0.2, node dropping and subgraph (the TU
          benchmarks' pairing), batch 128, Adam, 20 epochs. Library: :math:`\tau` = 0.2 and the
          ``graphcl_augment`` defaults; the engine chooses the optimiser.
        * views: both augmented, as in the paper; the authors' TU code contrasts the original
          graph with one augmented view.
        * loss: anchors in the first view only (the authors' ``loss_cal``), negatives from this
          process's batch.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 128,
        projector_dim: int = 128,
        temperature: float = 0.2,
    ) -> None:
        super().__init__(encoder, views)
        check_int(projector_hidden_dim, "projector_hidden_dim")
        check_int(projector_dim, "projector_dim")
        self.temperature = check_positive_number(temperature, "temperature")
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=2,
                             batch_norm=False)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        # Two augmentations of every graph, each drawn from the augmentation pool.
        v1, v2 = self.views(batch, 2)
        # Graph-level representations h = readout(f(G)), then projections z = g(h).
        z1 = self.projector(self.encoder(v1["x"]))
        z2 = self.projector(self.encoder(v2["x"]))
        loss = graphcl_loss(z1, z2, self.temperature)
        return {"loss": loss, "positive_cosine": positive_cosine(z1, z2)}

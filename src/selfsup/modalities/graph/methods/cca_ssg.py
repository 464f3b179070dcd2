"""CCA-SSG: two views' standardised node embeddings agree, each view's dimensions decorrelated."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.methods.base import Method, detach_logs
from selfsup.modalities.graph.losses.cca_ssg import cca_ssg_terms
from selfsup.registry import METHODS
from selfsup.validate import check_weight


@METHODS.register(
    "cca_ssg",
    family="redundancy reduction",
    paper="Zhang et al. 2021, From Canonical Correlation Analysis to Self-supervised Graph Neural Networks",
    modality="graph",
    default_encoder="gcn",
    default_views="graph_augment",
)
class CCASSG(Method):
    r"""CCA-SSG (Zhang, Wu, Yang, Yu 2021).

    Two views of the graph (edges dropped, feature dimensions masked,
    :class:`~selfsup.modalities.graph.views.augment.GraphAugment`) go through one GNN; the
    embeddings of each view are standardised per dimension over the nodes
    (:math:`\tilde Z = (Z - \mu)/\sigma/\sqrt N`, a batch norm without affine parameters) and the
    loss is a soft canonical correlation analysis (eq. 7,
    :func:`~selfsup.modalities.graph.losses.cca_ssg.cca_ssg_terms`):

    .. math::
        \mathcal L = \| \tilde Z_A - \tilde Z_B \|_F^2
            + \lambda \Big( \| \tilde Z_A^\top \tilde Z_A - I \|_F^2
            + \| \tilde Z_B^\top \tilde Z_B - I \|_F^2 \Big)

    No projector and no negatives: the decorrelation term keeps the embedding from collapsing.
    The rows are the batch's nodes (``g.nodes``; message passing uses every node of the graph),
    so the statistics are over the batch: keep batches large (the paper uses every node). The
    method uses only ``encoder(g)``, so it runs on graph-level batches too.

    Args:
        encoder: any graph encoder mapping a :class:`Graphs` to ``[B, D]`` with ``output_dim``.
        views: view maker, ``views(batch, 2) -> [view_a, view_b]``.
        decorrelation_weight: :math:`\lambda`, ``>= 0``.

    Paper defaults vs. library defaults (Appendix, the authors' commands per data set):
        * :math:`\lambda = 10^{-3}` on Cora, Pubmed, Amazon-Photo and the Coauthor graphs,
          :math:`5 \cdot 10^{-4}` on Citeseer and Amazon-Computers. Library: :math:`10^{-3}`.
          The authors' code writes the invariance term as :math:`-\mathrm{tr}(\tilde Z_A^\top
          \tilde Z_B)`, half of :math:`\| \tilde Z_A - \tilde Z_B \|_F^2` up to a constant, so
          its :math:`\lambda` weighs the decorrelation twice as much as the same value here
          (``decorrelation_weight=2e-3`` matches its Cora run).
        * Cora: 2-layer GCN 512-512 (ReLU between layers, none after the last), feature-mask
          rate 0.1 and edge-drop rate 0.4 for both views, 50 epochs, Adam lr 0.001, every node
          in each step. Library: the ``gcn`` encoder (256-256, PReLU after each layer), the
          ``graph_augment`` rates (GRACE's: 0.3/0.4 masking, 0.2/0.4 dropping), the batch's
          nodes per step, the trainer's optimiser.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, decorrelation_weight: float = 1e-3) -> None:
        super().__init__(encoder, views)
        self.decorrelation_weight = check_weight(decorrelation_weight, "decorrelation_weight")

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        view_a, view_b = self.views(batch, 2)
        z_a = self.encoder(view_a["x"])
        z_b = self.encoder(view_b["x"])
        return detach_logs(cca_ssg_terms(z_a, z_b, self.decorrelation_weight))

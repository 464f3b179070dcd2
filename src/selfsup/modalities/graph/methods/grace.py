"""GRACE: node-level contrast between two corrupted views of a graph."""

from __future__ import annotations

from torch import nn

from selfsup.methods.simclr import SimCLR
from selfsup.registry import METHODS


@METHODS.register(
    "grace",
    family="contrastive",
    paper="Zhu et al. 2020, Deep Graph Contrastive Representation Learning",
    modality="graph",
    default_encoder="gcn",
    default_views="graph_augment",
)
class GRACE(SimCLR):
    r"""GRACE (Zhu, Xu, Yu, Liu, Wu, Wang 2020).

    Two views of the graph (edges removed and feature dimensions masked, each at its own rate,
    :class:`~selfsup.modalities.graph.views.augment.GraphAugment`) go through a shared GNN and a
    projection head; node :math:`u`'s embedding in one view must pick out the same node in the
    other view among every other node of both views (eq. 1):

    .. math::
        \ell(u_i, v_i) = -\log \frac{e^{\theta(u_i, v_i)/\tau}}
            {e^{\theta(u_i, v_i)/\tau} + \sum_{k \ne i} e^{\theta(u_i, v_k)/\tau}
             + \sum_{k \ne i} e^{\theta(u_i, u_k)/\tau}}

    averaged over both directions (eq. 2), with :math:`\theta` the cosine similarity of the
    projections: exactly NT-Xent over the :math:`2B` projections of a batch of :math:`B` nodes,
    so GRACE is SimCLR's loss on graph views with the paper's head and temperature.

    Paper defaults vs. library defaults:
        * all nodes in the loss at every step (Cora: 2,708). Library: the batch's nodes
          (``--batch-size``); message passing still uses the whole graph. A batch of every node
          reproduces the paper's loss.
        * projection head: 2 layers with ELU, width = embedding width (128 on Cora). Library:
          2 layers, hidden 128, output 128.
        * :math:`\tau` = 0.4 on Cora, edge-drop rates 0.2 / 0.4, feature-mask rates 0.3 / 0.4
          (Table 5). Library: the same (the ``graph_augment`` defaults).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 128,
        projector_dim: int = 128,
        temperature: float = 0.4,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)

"""DGI: nodes of the real graph against nodes of a feature-shuffled copy, judged against a summary."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.methods.base import Method
from selfsup.modalities.graph.losses.dgi import dgi_loss
from selfsup.modalities.graph.methods.checks import node_batch, node_encoder
from selfsup.registry import METHODS

LOSS_NODES = ("batch", "all")


@METHODS.register(
    "dgi",
    family="contrastive",
    paper="Veličković et al. 2019, Deep Graph Infomax",
    modality="graph",
    default_encoder="gcn",
    default_views="none",
)
class DGI(Method):
    r"""Deep Graph Infomax (Veličković, Fedus, Hamilton, Liò, Bengio, Hjelm 2019).

    Maximises the mutual information between each node's embedding and a summary of the whole
    graph (Section 3.4, Algorithm 1):

    1. corrupt the graph: :math:`(\tilde X, \tilde A) = \mathcal C(X, A)`, here the paper's
       row-wise shuffle of the node features, edges kept (so every node keeps its neighbours but
       gets another node's features);
    2. embed both: :math:`H = \mathcal E(X, A)`, :math:`\tilde H = \mathcal E(\tilde X, \tilde A)`;
    3. summarise the real graph: :math:`\vec s = \sigma\big(\frac1N \sum_i \vec h_i\big)`;
    4. score with the bilinear discriminator :math:`D(\vec h, \vec s) = \vec h^\top W \vec s + b`
       and minimise the binary cross-entropy of eq. 1 (:func:`~selfsup.modalities.graph.losses.dgi.dgi_loss`):
       real nodes are positives, corrupted nodes negatives.

    Which nodes: message passing and the summary always use every node of the batch's graph
    (the whole graph, or the sampled neighbourhood the batch carries); the loss is over the
    batch's nodes ``g.nodes`` in both graphs (``loss_nodes="batch"``), so an epoch scores each
    node once as a positive and once as a negative, or over every node (``"all"``, the paper's
    loss at every step).

    Args:
        encoder: a node-level graph encoder with ``node_embeddings(g) -> [n, D]`` (``gcn`` …).
        views: unused (DGI corrupts the graph itself; its default is ``none``).
        loss_nodes: ``"batch"`` (the batch's nodes) or ``"all"`` (every node of the graph).

    Paper defaults vs. library defaults (Section 4.3, transductive):
        * encoder: one GCN layer, 512 wide (256 on Pubmed), PReLU. Library: the ``gcn`` encoder,
          two layers 256 wide with PReLU (``encoder.layers=1``, ``encoder.output_dim=512`` give the
          paper's).
        * every node in the loss at every step (full batch). Library: the batch's nodes; a batch
          of every node (or ``loss_nodes=all``) gives the paper's loss.
        * discriminator with a bias, Xavier-initialised weight (the authors' code). Library: the
          same.
        * Adam, learning rate 0.001, early stopping on the loss (patience 20). Library: the
          trainer's optimiser and a fixed number of epochs.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, loss_nodes: str = "batch") -> None:
        super().__init__(node_encoder(encoder, "dgi"), views)
        if loss_nodes not in LOSS_NODES:
            raise ValueError(f"loss_nodes must be one of {', '.join(LOSS_NODES)}, got {loss_nodes!r}")
        self.loss_nodes = loss_nodes
        self.discriminator = nn.Bilinear(self.embed_dim, self.embed_dim, 1)
        nn.init.xavier_uniform_(self.discriminator.weight)
        nn.init.zeros_(self.discriminator.bias)

    @staticmethod
    def corrupt(g: Any) -> Any:
        """The corruption :math:`\\mathcal C`: node features shuffled across nodes, edges kept."""
        return g.with_(x=g.x[torch.randperm(g.num_nodes, device=g.x.device)])

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """The summary :math:`\\sigma(\\mathrm{mean}_i\\, \\vec h_i)` of ``h [n, D]``, ``[D]``."""
        return torch.sigmoid(h.mean(0))

    def score(self, h: torch.Tensor, summary: torch.Tensor) -> torch.Tensor:
        """Discriminator logits :math:`\\vec h_i^\\top W \\vec s + b` for ``h [m, D]``: ``[m]``."""
        # = self.discriminator(h, summary.expand_as(h)), without nn.Bilinear's backward, which
        # costs ~40x this product on a graph of 2,708 nodes (2 s against 0.05 s a step)
        return h @ (self.discriminator.weight[0] @ summary) + self.discriminator.bias

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        g = node_batch(batch["x"], "dgi")
        h = self.encoder.node_embeddings(g)
        h_corrupt = self.encoder.node_embeddings(self.corrupt(g))
        summary = self.readout(h)
        if self.loss_nodes == "batch":
            h, h_corrupt = h[g.nodes], h_corrupt[g.nodes]
        positive, negative = self.score(h, summary), self.score(h_corrupt, summary)
        loss = dgi_loss(positive, negative)
        accuracy = torch.cat([positive > 0, negative < 0]).float().mean()
        return {"loss": loss, "discriminator_acc": accuracy.detach()}

"""InfoGraph: maximise the mutual information between each graph's summary and its nodes."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
from torch import nn

from selfsup.methods.base import Method
from selfsup.modalities.graph.losses.infograph import infograph_jsd_loss
from selfsup.registry import METHODS
from selfsup.validate import check_int


class InfoGraphDiscriminator(nn.Module):
    """The encoder of embeddings into the space where InfoGraph scores node-graph pairs: a
    ``layers``-deep ``Linear-ReLU`` stack plus a linear shortcut (``FF`` of the authors' code).

    Shapes: ``[*, in_dim] -> [*, dim]``.
    """

    def __init__(self, in_dim: int, dim: int, layers: int = 3) -> None:
        super().__init__()
        widths = [in_dim] + [dim] * layers
        modules = [m for a, b in pairwise(widths) for m in (nn.Linear(a, b), nn.ReLU())]
        self.block = nn.Sequential(*modules)
        self.shortcut = nn.Linear(in_dim, dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.block(h) + self.shortcut(h)


@METHODS.register(
    "infograph",
    family="contrastive",
    paper="Sun et al. 2020, InfoGraph: Unsupervised and Semi-supervised Graph-Level Representation "
    "Learning via Mutual Information Maximization",
    modality="graph",
    default_encoder="gin",
    default_views="none",
)
class InfoGraph(Method):
    r"""InfoGraph (Sun, Hoffmann, Verma, Tang 2020).

    A GNN gives every node a patch representation :math:`h^u_\phi` and the readout a graph
    summary :math:`H_\phi(G)`; InfoGraph maximises, over the batch's graphs, the mutual
    information between each summary and the patches of its own graph (eq. 3), the patches of
    the batch's other graphs serving as negatives:

    .. math::
        \hat\phi, \hat\psi = \arg\max_{\phi, \psi} \sum_{G} \frac{1}{|G|} \sum_{u \in G}
            \hat I^{JSD}_{\phi, \psi}\big(h^u_\phi; H_\phi(G)\big)

    with the Jensen-Shannon estimator of eq. 4 on the score
    :math:`T(h^u, H(G)) = \phi_{loc}(h^u)^\top \psi_{glob}(H(G))`, where the local and global
    discriminators (:class:`InfoGraphDiscriminator`) map node and graph embeddings into a shared
    space (:func:`~selfsup.modalities.graph.losses.infograph.infograph_jsd_loss`). No views: the
    graphs are used as they are. Evaluation uses the summary :math:`H_\phi(G)`.

    Args:
        encoder: a graph encoder with ``node_embeddings(g) -> [n, D]`` and
            ``pool(h, g) -> [B, D]`` (:class:`~selfsup.modalities.graph.encoders.gnn.GNN`),
            built for graph-level data.
        views: view maker; InfoGraph's recipe uses none (``views(batch, 1)`` is the input).
        discriminator_dim: width of the shared space the discriminators map into.
        discriminator_layers: ``Linear-ReLU`` layers of each discriminator.

    Paper defaults vs. library defaults (Section 4.1; the authors' ``unsupervised`` code):
        * encoder: GIN with sum readout of every layer concatenated; the code's defaults are 5
          layers of width 32 (``D`` = 160). Library: ``gin``, 3 layers of width 128, sum readout
          of the last.
          The recipe ``configs/infograph_synthetic_motifs.yaml`` reads out the mean instead: on
          graphs whose size says nothing about the label, summed summaries mostly encode the size
          and do not beat the random-init GIN (benchmarks/RESULTS.md).
        * discriminators: 3 ``Linear-ReLU`` layers of width ``D`` plus a linear shortcut.
          Library: the same, width 128 (``D`` of ``gin``).
        * the optional prior-matching term (the code's ``--prior``, off by default) and the
          semi-supervised InfoGraph* are left out.
        * batch 128, Adam, 20 epochs (the code); the engine chooses the optimiser.
        * the JSD means run over all nodes of the batch, as in the code (eq. 3 weighs every
          graph equally); the code's constant :math:`2 \log 2` is dropped.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        discriminator_dim: int = 128,
        discriminator_layers: int = 3,
    ) -> None:
        super().__init__(encoder, views)
        check_int(discriminator_dim, "discriminator_dim")
        check_int(discriminator_layers, "discriminator_layers")
        if not (hasattr(encoder, "node_embeddings") and hasattr(encoder, "pool")):
            raise ValueError("encoder must give node embeddings and pool them (node_embeddings, "
                             "pool): use a graph encoder such as gin")
        if getattr(encoder, "task", "graph") != "graph":
            raise ValueError("infograph contrasts a graph's nodes with other graphs' summaries: it "
                             "needs graph-level data (many graphs), and the encoder was built for "
                             "one graph (task: node)")
        self.local_discriminator = InfoGraphDiscriminator(
            self.embed_dim, discriminator_dim, discriminator_layers)
        self.global_discriminator = InfoGraphDiscriminator(
            self.embed_dim, discriminator_dim, discriminator_layers)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        g = self.views(batch, 1)[0]["x"]
        # Patch representations h^u (every node) and the summary H(G) = readout of each graph.
        patches = self.encoder.node_embeddings(g)
        summaries = self.encoder.pool(patches, g)
        # The discriminators map both into the space where T(h^u, H(G)) is a dot product.
        local = self.local_discriminator(patches)
        summary = self.global_discriminator(summaries)
        loss = infograph_jsd_loss(local, summary, g.batch)
        return {"loss": loss}

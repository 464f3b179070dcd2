"""MVGRL: node embeddings of one view (the adjacency or a PPR or heat diffusion) against the
summary of the other, real nodes against feature-shuffled ones."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method
from selfsup.modalities.graph.data.graphs import Graphs
from selfsup.modalities.graph.losses.dgi import dgi_loss
from selfsup.modalities.graph.methods.checks import node_batch, node_encoder
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_positive_number

LOSS_NODES = ("batch", "all")
DIFFUSIONS = ("ppr", "heat")
MAX_DENSE_NODES = 5000  # the diffusion inverts (or exponentiates) a dense [n, n] matrix


class GraphTooLarge(SelfsupError, ValueError):
    """A graph too large for MVGRL's dense diffusion (a user error: one line, and a ValueError)."""


def dense_adjacency(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """``[n, n]``: :math:`\\hat A = A + I`, ``A[i, j] = 1`` for each edge ``j -> i``, self-loops set
    (where missing); float32 on ``edge_index``'s device. Graphs of more than 5,000 nodes are
    refused (:class:`GraphTooLarge`): the diffusions are dense."""
    if num_nodes > MAX_DENSE_NODES:
        raise GraphTooLarge(
            f"mvgrl's diffusion is a dense {num_nodes} x {num_nodes} matrix; graphs of more than "
            f"{MAX_DENSE_NODES} nodes are refused: use grace or dgi, or fewer nodes (a sampled "
            f"neighbourhood per batch)")
    a = torch.zeros(num_nodes, num_nodes, device=edge_index.device)
    a[edge_index[1], edge_index[0]] = 1.0
    return a.fill_diagonal_(1.0)


def ppr_matrix(edge_index: torch.Tensor, num_nodes: int, alpha: float = 0.2) -> torch.Tensor:
    r"""The dense personalised-PageRank diffusion of the graph, ``[n, n]`` (eq. 4 of the paper):

    .. math::
        S = \alpha \big(I - (1 - \alpha)\, \hat D^{-1/2} \hat A \hat D^{-1/2}\big)^{-1},

    with :math:`\hat A = A + I` (self-loops added where missing, as the authors' ``compute_ppr``
    does, which also keeps isolated nodes' degree above 0) and :math:`\hat D` its degrees.
    ``A[i, j] = 1`` for each edge ``j -> i`` (``edge_index[:, e] = (j, i)``, PyG's
    source-to-target order), so row ``i`` of ``S`` holds the weights node ``i`` gathers.
    Computed in float32 on ``edge_index``'s device (the matrix inverted has eigenvalues in
    :math:`[\alpha, 2 - \alpha]`, well conditioned).
    """
    a = dense_adjacency(edge_index, num_nodes)
    d_inv_sqrt = a.sum(1).rsqrt()
    t = d_inv_sqrt[:, None] * a * d_inv_sqrt[None, :]
    eye = torch.eye(num_nodes, device=a.device)
    return alpha * torch.linalg.inv(eye - (1 - alpha) * t)


def heat_matrix(edge_index: torch.Tensor, num_nodes: int, t: float = 5.0) -> torch.Tensor:
    r"""The dense heat-kernel diffusion of the graph, ``[n, n]`` (eq. 3 of the paper):

    .. math::
        S = \exp\big(t\, \hat A \hat D^{-1} - t I\big),

    a matrix exponential (``torch.linalg.matrix_exp``), with :math:`\hat A = A + I` as for
    :func:`ppr_matrix` (and the authors' ``compute_heat``) and :math:`\hat D` the column sums of
    :math:`\hat A` (the degrees, on an undirected graph). :math:`\hat A \hat D^{-1}` is
    column-stochastic, so :math:`S` is too: each column is where a unit of heat starting at that
    node has spread after time :math:`t`; its entries are non-negative. The authors' code takes
    the element-wise ``np.exp`` of the same matrix, which is not eq. 3; this is eq. 3.
    """
    a = dense_adjacency(edge_index, num_nodes)
    transition = a / a.sum(0, keepdim=True)
    eye = torch.eye(num_nodes, device=a.device)
    return torch.linalg.matrix_exp(t * (transition - eye))


def sparsify(s: torch.Tensor, top_k: int, threshold: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted edges ``(edge_index [2, E], edge_weight [E])`` of a dense diffusion ``s [n, n]``:
    in each row ``i`` the ``top_k`` largest entries ``s[i, j]`` that are also ``> threshold``,
    as edges ``j -> i`` weighted ``s[i, j]``."""
    k = min(top_k, s.shape[1])
    values, columns = s.topk(k, dim=1)
    rows = torch.arange(s.shape[0], device=s.device).unsqueeze(1).expand_as(columns)
    keep = values > threshold
    return torch.stack([columns[keep], rows[keep]]), values[keep]


@METHODS.register(
    "mvgrl",
    family="contrastive",
    paper="Hassani & Khasahmadi 2020, Contrastive Multi-View Representation Learning on Graphs",
    modality="graph",
    default_encoder="gcn",
    default_views="none",
)
class MVGRL(Method):
    r"""MVGRL, node level (Hassani & Khasahmadi 2020, Section 3).

    Two structural views of one graph: its adjacency (the graph as it is) and a graph diffusion,
    the personalised PageRank :math:`S = \alpha (I - (1-\alpha) \hat D^{-1/2} \hat A
    \hat D^{-1/2})^{-1}` (:func:`ppr_matrix`, eq. 4) or the heat kernel
    :math:`S = \exp(t \hat A \hat D^{-1} - t)` (:func:`heat_matrix`, eq. 3), sparsified to the
    ``top_k`` largest entries per row above ``threshold`` (:func:`sparsify`) and used as a
    weighted graph. Each view has its own GCN: ``encoder`` (the adjacency's, the one selfsup
    evaluates) and ``diffusion_encoder`` (a copy of it, re-initialised). Then, as DGI but across views (eq. 6-7):

    1. embed both views, :math:`H^\alpha`, :math:`H^\beta`, and their feature-shuffled copies
       (one row permutation of the node features for both views, edges kept);
    2. summarise each real view, :math:`\vec s^\alpha = \sigma(\mathrm{mean}_i\, \vec h^\alpha_i)`
       and likewise :math:`\vec s^\beta`;
    3. score each node of one view against the *other* view's summary with one shared bilinear
       discriminator :math:`D(\vec h, \vec s) = \vec h^\top W \vec s + b`: positives
       :math:`D(\vec h^\alpha_i, \vec s^\beta)`, :math:`D(\vec h^\beta_i, \vec s^\alpha)`,
       negatives the same with shuffled-feature embeddings;
    4. minimise the binary cross-entropy of positives against negatives
       (:func:`~selfsup.modalities.graph.losses.dgi.dgi_loss` over all four sets).

    The diffusion is computed once per graph, lazily at the first batch of it, and cached
    (keyed by the graph's size and edges; a new graph, e.g. the sampled neighbourhood of each
    batch, is diffused anew). It is dense: graphs of more than 5,000 nodes are refused.

    Args:
        encoder: a node-level graph encoder with ``node_embeddings(g) -> [n, D]`` whose
            convolutions take edge weights (``gcn``).
        views: unused (the two views are the adjacency and the diffusion; default ``none``).
        diffusion: ``ppr`` (personalised PageRank) or ``heat`` (heat kernel).
        alpha: the teleport probability of the PPR diffusion, in (0, 1).
        t: the diffusion time of the heat kernel, a number > 0.
        top_k: entries kept per row of the diffusion (its edges per node), an integer >= 1.
        threshold: entries kept must also exceed it (>= 0; 0 keeps every top-k entry).
        loss_nodes: ``"batch"`` (the batch's nodes) or ``"all"`` (every node of the graph).

    Paper defaults vs. library defaults (Section 4, node classification; the authors' code):
        * encoder: one GCN layer per view, 512 wide, PReLU; the diffusion view's GCN takes the
          dense diffusion as its propagation matrix as it is. Library: the ``gcn`` encoder, two
          layers 256 wide (``encoder.layers=1``, ``encoder.output_dim=512`` give the paper's);
          the diffusion is a sparse weighted graph that ``GCNConv`` normalises once more
          (:math:`\tilde D^{-1/2} S \tilde D^{-1/2}`, nearly ``S``: its rows sum to about 1).
        * the diffusion: PPR with :math:`\alpha = 0.2` (the best on node classification) or heat
          with :math:`t = 5`, dense, or thresholded at an :math:`\epsilon` that keeps the graph's
          average degree. Library: PPR with :math:`\alpha = 0.2` (``diffusion=heat``, ``t=5``:
          the heat kernel), the ``top_k=32`` largest entries per row (``threshold`` adds the
          paper's :math:`\epsilon`).
        * the paper's text adds a shared MLP projection head on node embeddings and summaries;
          the authors' node-level code has none. Library: none, as the code.
        * training on sub-sampled subgraphs of the same nodes in both views, whole-graph loss.
          Library: message passing over the whole graph (or the batch's sampled neighbourhood),
          the loss over the batch's nodes (``loss_nodes=all``: every node, the paper's).
        * evaluation on the *sum* of both views' node embeddings :math:`\vec h^\alpha_i +
          \vec h^\beta_i`. Library: selfsup evaluates ``self.encoder`` alone, the adjacency
          view's embeddings (the diffusion encoder is trained, kept in the checkpoint, and not
          used downstream).
        * Adam, learning rate 0.001, early stopping on the loss. Library: the trainer's
          optimiser and a fixed number of epochs.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, diffusion: str = "ppr", alpha: float = 0.2,
                 t: float = 5.0, top_k: int = 32, threshold: float = 0.0, loss_nodes: str = "batch") -> None:
        super().__init__(node_encoder(encoder, "mvgrl"), views)
        if not getattr(encoder, "takes_edge_weight", False):
            raise ValueError("mvgrl needs an encoder whose convolutions take edge weights (gcn): the "
                             "diffusion view is a weighted graph")
        if diffusion not in DIFFUSIONS:
            raise ValueError(f"diffusion must be one of {', '.join(DIFFUSIONS)}, got {diffusion!r}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
            raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
        self.diffusion_kind, self.t = diffusion, check_positive_number(t, "t")
        check_int(top_k, "top_k")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < 1:
            raise ValueError(f"threshold must be a number in [0, 1), got {threshold!r}")
        if loss_nodes not in LOSS_NODES:
            raise ValueError(f"loss_nodes must be one of {', '.join(LOSS_NODES)}, got {loss_nodes!r}")
        self.alpha, self.top_k, self.threshold = float(alpha), top_k, float(threshold)
        self.loss_nodes = loss_nodes
        self.diffusion_encoder = copy.deepcopy(encoder)
        for module in self.diffusion_encoder.modules():  # its own initialisation, as the paper's
            if module is not self.diffusion_encoder and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        self.discriminator = nn.Bilinear(self.embed_dim, self.embed_dim, 1)
        nn.init.xavier_uniform_(self.discriminator.weight)
        nn.init.zeros_(self.discriminator.bias)
        self._cache: tuple[torch.Tensor, int, torch.Tensor, torch.Tensor] | None = None

    def diffusion(self, g: Graphs) -> tuple[torch.Tensor, torch.Tensor]:
        """The sparsified diffusion ``(edge_index, edge_weight)`` of ``g``'s graph, cached."""
        cached = self._cache
        if (cached is not None and cached[1] == g.num_nodes and cached[0].device == g.edge_index.device
                and cached[0].shape == g.edge_index.shape and torch.equal(cached[0], g.edge_index)):
            return cached[2], cached[3]
        with torch.no_grad():
            if self.diffusion_kind == "heat":
                s = heat_matrix(g.edge_index, g.num_nodes, self.t)
            else:
                s = ppr_matrix(g.edge_index, g.num_nodes, self.alpha)
            edge_index, edge_weight = sparsify(s, self.top_k, self.threshold)
            del s
        self._cache = (g.edge_index.clone(), g.num_nodes, edge_index, edge_weight)
        return edge_index, edge_weight

    @staticmethod
    def readout(h: torch.Tensor) -> torch.Tensor:
        """The summary :math:`\\sigma(\\mathrm{mean}_i\\, \\vec h_i)` of ``h [n, D]``, ``[D]``."""
        return torch.sigmoid(h.mean(0))

    def score(self, h: torch.Tensor, summary: torch.Tensor) -> torch.Tensor:
        """Discriminator logits :math:`\\vec h_i^\\top W \\vec s + b` for ``h [m, D]``: ``[m]``
        (nn.Bilinear's value, without its slow backward)."""
        return h @ (self.discriminator.weight[0] @ summary) + self.discriminator.bias

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        g = node_batch(batch["x"], "mvgrl")
        edge_index, edge_weight = self.diffusion(g)
        adjacency = g.with_(edge_weight=None)
        diffused = g.with_(edge_index=edge_index, edge_weight=edge_weight)
        shuffled_x = g.x[torch.randperm(g.num_nodes, device=g.x.device)]
        h_a = self.encoder.node_embeddings(adjacency)
        h_d = self.diffusion_encoder.node_embeddings(diffused)
        h_a_neg = self.encoder.node_embeddings(adjacency.with_(x=shuffled_x))
        h_d_neg = self.diffusion_encoder.node_embeddings(diffused.with_(x=shuffled_x))
        s_a, s_d = self.readout(h_a), self.readout(h_d)
        if self.loss_nodes == "batch":
            h_a, h_d, h_a_neg, h_d_neg = h_a[g.nodes], h_d[g.nodes], h_a_neg[g.nodes], h_d_neg[g.nodes]
        positive = torch.cat([self.score(h_a, s_d), self.score(h_d, s_a)])
        negative = torch.cat([self.score(h_a_neg, s_d), self.score(h_d_neg, s_a)])
        loss = dgi_loss(positive, negative)
        accuracy = torch.cat([positive > 0, negative < 0]).float().mean()
        return {"loss": loss, "discriminator_acc": accuracy.detach()}

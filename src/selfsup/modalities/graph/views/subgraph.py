r"""Random-walk subgraph views: each sample sees the part of the graph a few random walks with
restart from it reach.

GCC (Qiu et al. 2020, "GCC: Graph Contrastive Coding for Graph Neural Network Pre-Training",
Section 3) makes the views of a node from its neighbourhood by random walk with restart: two
walks from the same node give two subgraphs of its ego network, which must embed alike. The
same holds here, on the device and for the whole batch at once:

- **node level** (``Graphs.nodes`` set): ``walks`` walks of ``walk_length`` steps start from each
  batch node; at every step a walker returns to its start with probability ``restart``, else moves
  to a uniformly random neighbour (against the edge direction, to a node that sends it messages,
  so that what it reaches is what a GNN would gather; the same on an undirected graph);
- **graph level** (``Graphs.batch`` set): ``walks`` walks start from one random node of each graph.

The view is the subgraph induced by the visited nodes: only the edges between two visited nodes
stay, and the other nodes keep their ids but lose their features and edges (as ``drop_nodes``
of :mod:`~selfsup.modalities.graph.views.augment` does). The batch's nodes are always visited.
One view serves the whole batch, so it is the union of every batch node's walks: a node also
keeps what its batch neighbours' walks reached nearby.
Feature masking (GRACE's, one rate per view) may follow.

All walkers move together: one step is a few tensor operations over every walker, on a CSR of
the graph built on the batch's device, so the Python loop runs over steps, never over nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.modalities.graph.views.augment import mask_features, rate_of_view, view_rates
from selfsup.modalities.graph.views.graphcl import random_node_of
from selfsup.registry import VIEWS
from selfsup.validate import check_int
from selfsup.views import ViewMaker


def in_neighbour_csr(edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``(rowptr [n + 1], sources [E])``: node ``v``'s in-neighbours (the sources ``u`` of its edges
    ``u -> v``) are ``sources[rowptr[v]:rowptr[v + 1]]``."""
    order = torch.argsort(edge_index[1], stable=True)
    counts = torch.bincount(edge_index[1], minlength=num_nodes)
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
    rowptr[1:] = counts.cumsum(0)
    return rowptr, edge_index[0, order]


def random_walk_visits(edge_index: Tensor, num_nodes: int, starts: Tensor, walk_length: int,
                       restart: float) -> Tensor:
    """``bool [n]``: the nodes that walks with restart from ``starts [W]`` (one walker each) visit
    in ``walk_length`` steps, the starts included. At each step a walker goes back to its start
    with probability ``restart`` (or when its node has no in-neighbour), else to a uniformly
    random in-neighbour."""
    device = starts.device
    visited = torch.zeros(num_nodes, dtype=torch.bool, device=device)
    visited[starts] = True
    if edge_index.shape[1] == 0 or starts.numel() == 0:
        return visited
    rowptr, sources = in_neighbour_csr(edge_index, num_nodes)
    degree = rowptr[1:] - rowptr[:-1]
    current = starts
    for _ in range(walk_length):
        deg = degree[current]
        offset = torch.minimum((torch.rand(current.numel(), device=device) * deg).long(), (deg - 1).clamp(min=0))
        # a walker on a node without in-neighbours reads some entry here and is sent back below
        step = sources[(rowptr[current] + offset).clamp(max=sources.numel() - 1)]
        back = (torch.rand(current.numel(), device=device) < restart) | (deg == 0)
        current = torch.where(back, starts, step)
        visited[current] = True
    return visited


def keep_visited(g: Graphs, visited: Tensor) -> Graphs:
    """``g`` restricted to the subgraph induced by ``visited [n]``: edges between two visited nodes
    (with their weights), the other nodes' features zeroed; ids and samples stay."""
    keep_edge = visited[g.edge_index[0]] & visited[g.edge_index[1]]
    return g.keep_edges(keep_edge).with_(x=g.x * visited.unsqueeze(1).to(g.x.dtype))


@VIEWS.register("graph_subgraph", modality="graph",
                paper="Qiu et al. 2020, GCC: Graph Contrastive Coding for Graph Neural Network Pre-Training",
                description="random-walk-with-restart subgraph around each batch node (or graph), "
                "optional feature masking; node or graph level")
class GraphSubgraph(ViewMaker):
    """Random-walk subgraph views of a graph batch (see the module docstring).

    Args:
        input_spec: the graph's spec (unused: the views need nothing of it).
        walks: walks per batch node (node level) or per graph (graph level), an integer >= 1.
        walk_length: steps of each walk, an integer >= 1.
        restart: probability of going back to the start at each step, in [0, 1).
        mask_feature: probability of zeroing each feature dimension afterwards (GRACE's masking);
            a pair gives view 0 and view 1 their own. Default 0 for both: the subgraph alone (a
            pair as default, so that a recipe may give a pair).

    Defaults: GCC's released code walks with restart probability 0.8 and samples larger ego
    networks (subgraphs of up to 128 nodes); the library's defaults, 4 walks of 16 steps with
    restart 0.5, keep about the 2-hop neighbourhood a 2-layer GNN sees.
    """

    def __init__(
        self,
        input_spec: GraphSpec | None = None,
        walks: int = 4,
        walk_length: int = 16,
        restart: float = 0.5,
        mask_feature: float | Sequence[float] = (0.0, 0.0),
    ) -> None:
        super().__init__()
        self.walks = check_int(walks, "walks")
        self.walk_length = check_int(walk_length, "walk_length")
        if isinstance(restart, bool) or not isinstance(restart, (int, float)) or not 0 <= restart < 1:
            raise ValueError(f"restart must be a probability in [0, 1), got {restart!r}")
        self.restart = float(restart)
        self.mask_feature = view_rates("mask_feature", mask_feature)

    def visited(self, g: Graphs) -> Tensor:
        """``bool [n]``: the nodes this view keeps (one draw of the walks)."""
        if g.nodes is not None:
            starts = g.nodes.repeat(self.walks)
        else:
            counts = torch.bincount(g.batch, minlength=g.num_graphs)
            present = torch.nonzero(counts > 0).flatten()
            starts = random_node_of(present, g.batch, g.num_graphs).repeat(self.walks)
        return random_walk_visits(g.edge_index, g.num_nodes, starts, self.walk_length, self.restart)

    def augment(self, x: Graphs, i: int) -> Graphs:
        view = keep_visited(x, self.visited(x))
        return mask_features(view, rate_of_view(self.mask_feature, i))

    def extra_repr(self) -> str:
        return (f"walks={self.walks}, walk_length={self.walk_length}, restart={self.restart}, "
                f"mask_feature={list(self.mask_feature)}")

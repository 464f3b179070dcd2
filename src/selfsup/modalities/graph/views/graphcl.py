r"""GraphCL's graph augmentations (You, Chen, Sui, Chen, Wang, Shen 2020, "Graph Contrastive
Learning with Augmentations", Section 3.1 and Table 1), for a batch of many graphs.

Each view of each graph gets one augmentation, drawn uniformly from the enabled ones, each
changing a fraction ``ratio`` of the graph (the paper's default 0.2):

- ``drop_node``: ``floor(ratio * n)`` random nodes removed with their edges;
- ``perturb_edge``: ``floor(ratio * m)`` of the graph's ``m`` (undirected) edges removed and as
  many random node pairs of the graph joined ("adding or dropping", Table 1);
- ``mask_attribute``: the features of ``floor(ratio * n)`` random nodes replaced by Gaussian
  noise :math:`\mathcal{N}(0.5, 0.5^2)`, as the authors' TU code (``mask_nodes``) does;
- ``subgraph``: a random walk from a random node, which may go on from any node it has visited
  (as the authors' ``subgraph`` grows its node set from the set's neighbours), keeps the
  ``ceil((1 - ratio) * n)`` connected nodes it reaches first; the other nodes are removed.

Removed nodes leave the batch (features, edges, their entry in ``batch``): a graph's pooled
embedding sums only what is left, as in the authors' code. The batch's samples (its graphs) stay.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.registry import VIEWS
from selfsup.views import ViewMaker

AUGMENTATIONS = ("drop_node", "perturb_edge", "mask_attribute", "subgraph")


def random_fraction(group: Tensor, num_groups: int, fraction: float) -> Tensor:
    """``bool [m]``: ``floor(fraction * size)`` random members of every group.

    ``group [m]`` holds the group (graph) of each member (node or edge), in ``[0, num_groups)``.
    """
    m = group.numel()
    counts = torch.bincount(group, minlength=num_groups)
    # Random order within each group: shuffle, then a stable sort by group.
    shuffle = torch.randperm(m, device=group.device)
    order = shuffle[torch.argsort(group[shuffle], stable=True)]
    starts = counts.cumsum(0) - counts
    rank = torch.empty_like(group)
    rank[order] = torch.arange(m, device=group.device) - starts[group[order]]
    return rank < torch.floor(fraction * counts.double()).long()[group]


def random_node_of(graphs: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """``[k]``: one uniformly random node of each graph in ``graphs [k]`` (none may be empty)."""
    counts = torch.bincount(batch, minlength=num_graphs)
    starts = counts.cumsum(0) - counts
    by_graph = torch.argsort(batch, stable=True)  # the nodes, grouped by graph
    offset = (torch.rand(graphs.numel(), device=batch.device) * counts[graphs]).long()
    return by_graph[starts[graphs] + torch.minimum(offset, counts[graphs] - 1)]


def random_walk_nodes(edge_index: Tensor, batch: Tensor, num_graphs: int, keep: float) -> Tensor:
    """``bool [n]``: a connected random subgraph of each graph, grown by a random walk.

    The walk starts at a random node of each graph and, at each step, crosses a random edge from
    a node it has reached to one it has not (it may go on from any node it has visited), until it
    has reached ``ceil(keep * n_g)`` of its graph's ``n_g`` nodes or no edge leads further (a
    graph of several components keeps part of one).
    """
    n = batch.numel()
    device = batch.device
    counts = torch.bincount(batch, minlength=num_graphs)
    target = torch.ceil(keep * counts.double()).long().clamp(min=1)
    present = torch.nonzero(counts > 0).flatten()
    reached = torch.zeros(n, dtype=torch.bool, device=device)
    reached[random_node_of(present, batch, num_graphs)] = True
    found = (counts > 0).long()
    src, dst = edge_index
    edge_graph = batch[src]
    edge_ids = torch.arange(src.numel(), device=device)
    for _ in range(int(target.max()) - 1):
        leading_out = reached[src] & ~reached[dst] & (found < target)[edge_graph]
        if not leading_out.any():
            break
        # one random outgoing edge per graph: the candidate with the highest random score
        score = torch.where(leading_out, torch.rand(src.numel(), device=device), -1.0)
        best = torch.full((num_graphs,), -1.0, device=device)
        best = best.scatter_reduce(0, edge_graph, score, "amax")
        top = leading_out & (score == best[edge_graph])
        pick = torch.full((num_graphs,), -1, device=device)
        pick = pick.scatter_reduce(0, edge_graph[top], edge_ids[top], "amax")
        pick = pick[pick >= 0]
        reached[dst[pick]] = True
        found += torch.bincount(edge_graph[pick], minlength=num_graphs)
    return reached


def perturb_edges(edge_index: Tensor, batch: Tensor, num_graphs: int, ratio: float,
                  graphs: Tensor) -> Tensor:
    """``floor(ratio * m_g)`` of the undirected edges of each graph ``g`` with ``graphs[g]`` True
    removed (both directions), and as many random node pairs of that graph joined (both ways)."""
    n = batch.numel()
    src, dst = edge_index
    pair = torch.minimum(src, dst) * n + torch.maximum(src, dst)  # one key per undirected edge
    pairs, entry_pair = torch.unique(pair, return_inverse=True)
    pair_graph = batch[pairs // n]
    dropped = random_fraction(pair_graph, num_graphs, ratio) & graphs[pair_graph]
    kept = edge_index[:, ~dropped[entry_pair]]
    added_graph = pair_graph[dropped]
    u = random_node_of(added_graph, batch, num_graphs)
    v = random_node_of(added_graph, batch, num_graphs)
    added = torch.stack([torch.cat([u, v]), torch.cat([v, u])])
    return torch.cat([kept, added], dim=1)


def keep_nodes(g: Graphs, keep: Tensor) -> Graphs:
    """The graph-level batch ``g`` with only the nodes where ``keep [n]`` is True, renumbered;
    edges touching a removed node go too. Every graph stays a sample (``num_graphs`` is kept)."""
    new_id = torch.cumsum(keep.long(), 0) - 1
    edges = g.edge_index[:, keep[g.edge_index[0]] & keep[g.edge_index[1]]]
    return g.with_(x=g.x[keep], edge_index=new_id[edges], batch=g.batch[keep])


@VIEWS.register("graphcl_augment", modality="graph",
                paper="You et al. 2020, Graph Contrastive Learning with Augmentations",
                description="GraphCL: per graph and view one of node dropping, edge perturbation, "
                "attribute masking, random-walk subgraph (graph-level data)")
class GraphCLAugment(ViewMaker):
    """GraphCL's views of a batch of graphs (see the module docstring).

    Args:
        input_spec: the data's :class:`GraphSpec`; node-level data (one graph) is refused.
        augmentations: the augmentations each view draws one of, per graph, among
            ``drop_node``, ``perturb_edge``, ``mask_attribute``, ``subgraph``. Default: node
            dropping and subgraph, the pairing Section 4.2 finds to help across data sets and
            the authors' TU runs use (``--aug random2``).
        ratio: the fraction of nodes (edges) each augmentation changes, in ``[0, 1)``; 0.2 in
            the paper (Section 4, "default augmentation ratio").
    """

    def __init__(
        self,
        input_spec: GraphSpec | None = None,
        augmentations: Sequence[str] = ("drop_node", "subgraph"),
        ratio: float = 0.2,
    ) -> None:
        super().__init__()
        if isinstance(augmentations, str):
            augmentations = (augmentations,)
        unknown = [a for a in augmentations if a not in AUGMENTATIONS]
        if not augmentations or unknown:
            raise ValueError(f"augmentations must be a non-empty list of "
                             f"{', '.join(AUGMENTATIONS)}, got {list(augmentations)!r}")
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
            raise ValueError(f"ratio must be a fraction in [0, 1), got {ratio!r}")
        if input_spec is not None and input_spec.task != "graph":
            raise ValueError("graphcl_augment makes views of many graphs (task: graph); this data "
                             "is one graph whose nodes are the samples: use graph_augment for it")
        self.augmentations = tuple(augmentations)
        self.ratio = float(ratio)

    def augment(self, x: Graphs, i: int) -> Graphs:
        if x.batch is None:
            raise ValueError("graphcl_augment makes views of graph-level batches (many graphs); "
                             "use graph_augment for node-level data")
        n, num_graphs, device = x.num_nodes, x.num_graphs, x.x.device
        choice = torch.randint(len(self.augmentations), (num_graphs,), device=device)
        node_choice = choice[x.batch]
        features, edge_index = x.x, x.edge_index
        keep = torch.ones(n, dtype=torch.bool, device=device)
        for k, name in enumerate(self.augmentations):
            chosen = choice == k
            if self.ratio == 0 or not chosen.any():
                continue
            chosen_nodes = node_choice == k
            if name == "drop_node":
                keep &= ~(chosen_nodes & random_fraction(x.batch, num_graphs, self.ratio))
            elif name == "subgraph":
                reached = random_walk_nodes(x.edge_index, x.batch, num_graphs, 1 - self.ratio)
                keep &= reached | ~chosen_nodes
            elif name == "mask_attribute":
                masked = chosen_nodes & random_fraction(x.batch, num_graphs, self.ratio)
                noise = torch.randn_like(features) * 0.5 + 0.5
                features = torch.where(masked.unsqueeze(1), noise, features)
            else:  # perturb_edge
                edge_index = perturb_edges(edge_index, x.batch, num_graphs, self.ratio, chosen)
        return keep_nodes(x.with_(x=features, edge_index=edge_index), keep)

    def extra_repr(self) -> str:
        return f"augmentations={list(self.augmentations)}, ratio={self.ratio}"

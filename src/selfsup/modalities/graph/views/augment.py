"""Graph views: edge dropping, feature masking and node dropping, for a whole batch at once.

GRACE (Zhu et al. 2020, "Deep Graph Contrastive Representation Learning") makes its two views by
removing each edge with probability ``p_e`` and zeroing each feature dimension (for every node)
with probability ``p_f``, with a different pair of rates per view (Cora: ``p_e`` 0.2 / 0.4,
``p_f`` 0.3 / 0.4). GraphCL (You et al. 2020) adds node dropping for graph-level views: here a
dropped node keeps its place (so node ids and the batch's samples stay put) but loses its edges
and features. Each rate is one number for every view or a pair (view 0, view 1; further views
repeat the last).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.registry import VIEWS
from selfsup.views import ViewMaker


def view_rates(name: str, value: float | Sequence[float]) -> tuple[float, ...]:
    """``value`` as a tuple of probabilities, one per view (a single number serves every view);
    a ValueError naming ``name`` unless each is a number in ``[0, 1)``."""
    rates = (value,) if isinstance(value, (int, float)) and not isinstance(value, bool) else tuple(value)
    if not rates or any(isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r < 1 for r in rates):
        raise ValueError(f"{name} must be a probability in [0, 1) or a list of them (one per view), got {value!r}")
    return tuple(float(r) for r in rates)


def rate_of_view(rates: tuple[float, ...], i: int) -> float:
    """View ``i``'s rate: its own, or the last one given (views past the pair repeat it)."""
    return rates[min(i, len(rates) - 1)]


def drop_edges(g: Graphs, p: float) -> Graphs:
    """Each edge (each direction) removed with probability ``p``."""
    if p == 0:
        return g
    return g.keep_edges(torch.rand(g.edge_index.shape[1], device=g.edge_index.device) >= p)


def mask_features(g: Graphs, p: float) -> Graphs:
    """Each feature dimension zeroed, for every node, with probability ``p``."""
    if p == 0:
        return g
    keep = torch.rand(g.x.shape[1], device=g.x.device) >= p
    return g.with_(x=g.x * keep.to(g.x.dtype))


def drop_nodes(g: Graphs, p: float) -> Graphs:
    """Each node, with probability ``p``, loses its features and its edges (it keeps its id)."""
    if p == 0:
        return g
    dropped = torch.rand(g.num_nodes, device=g.x.device) < p
    if g.nodes is not None:
        dropped[g.nodes] = False  # the batch's own nodes stay
    keep_edge = ~(dropped[g.edge_index[0]] | dropped[g.edge_index[1]])
    return g.keep_edges(keep_edge).with_(x=g.x * (~dropped).unsqueeze(1).to(g.x.dtype))


@VIEWS.register("graph_augment", modality="graph",
                description="edge dropping, feature masking, node dropping (GRACE, GraphCL); rates per view")
class GraphAugment(ViewMaker):
    """Views of a graph batch (see the module docstring).

    Args:
        input_spec: the graph's spec (unused: the views need nothing of it).
        drop_edge: probability of removing each edge; a pair gives view 0 and view 1 their own.
        mask_feature: probability of zeroing each feature dimension; a pair, per view.
        drop_node: probability of dropping each node (graph-level views); a pair, per view.
    """

    def __init__(
        self,
        input_spec: GraphSpec | None = None,
        drop_edge: float | Sequence[float] = (0.2, 0.4),
        mask_feature: float | Sequence[float] = (0.3, 0.4),
        drop_node: float | Sequence[float] = (0.0, 0.0),  # a pair: a recipe may give one
    ) -> None:
        super().__init__()
        self.drop_edge = view_rates("drop_edge", drop_edge)
        self.mask_feature = view_rates("mask_feature", mask_feature)
        self.drop_node = view_rates("drop_node", drop_node)

    def augment(self, x: Graphs, i: int) -> Graphs:
        x = drop_nodes(x, rate_of_view(self.drop_node, i))
        x = drop_edges(x, rate_of_view(self.drop_edge, i))
        return mask_features(x, rate_of_view(self.mask_feature, i))

"""Checks the node-level graph methods share (DGI, BGRL, CCA-SSG, GraphMAE): the encoder contract
and the batch they need. It registers nothing."""

from __future__ import annotations

from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.graphs import Graphs


def node_encoder(encoder: nn.Module, method_name: str, *attributes: str, node_task: bool = True) -> nn.Module:
    """``encoder`` if it gives every node's embedding (``node_embeddings(g) -> [n, D]``, as
    :class:`~selfsup.modalities.graph.encoders.gnn.GNN` does), has ``attributes`` and, with
    ``node_task``, is not built for graph-level data; else a ValueError naming the requirement
    (a recipe's user sees it as one SelfsupError line)."""
    missing = [a for a in ("node_embeddings", *attributes) if not hasattr(encoder, a)]
    if missing:
        raise ValueError(
            f"{method_name} needs a graph encoder with node_embeddings(g) -> [n, D] (gcn, gat, "
            f"gin, sage); {type(encoder).__name__} has no {' or '.join(missing)}")
    if node_task and getattr(encoder, "task", "node") != "node":
        raise ValueError(f"{method_name} is a node-level method: the encoder is built for the "
                         f"{encoder.task!r} task (use node-level data: one graph, its nodes as samples)")
    return encoder


def node_batch(g: Graphs, method_name: str) -> Graphs:
    """``g`` if it is a node-level batch (``g.nodes`` set), else one clear SelfsupError."""
    if not isinstance(g, Graphs) or g.nodes is None:
        raise SelfsupError(f"{method_name} is a node-level method: its batches must be nodes of one graph "
                           f"(a Graphs with nodes set), got {type(g).__name__}"
                           f"{' of whole graphs' if isinstance(g, Graphs) else ''}")
    return g

"""Message-passing encoders from PyTorch Geometric's layers: GCN, GAT, GIN and GraphSAGE.

Node level, an encoder returns the embeddings of the batch's nodes ``[B, D]`` after message
passing over the whole graph (or the sampled neighbourhood the batch carries); graph level, it
pools the node embeddings of each graph (``readout``: mean, sum, or max) to ``[B, D]``.
:meth:`GNN.node_embeddings` gives every node's embedding, what node-level methods (DGI, GRACE,
GraphMAE) work on.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.registry import ENCODERS
from selfsup.validate import check_int

CONVS = ("gcn", "gat", "gin", "sage")
READOUTS = ("mean", "sum", "max")
LAYER_OUTPUTS = ("last", "concat")


def _conv(kind: str, d_in: int, d_out: int, heads: int) -> nn.Module:
    from torch_geometric import nn as gnn

    if kind == "gcn":
        return gnn.GCNConv(d_in, d_out, cached=False)
    if kind == "gat":
        return gnn.GATConv(d_in, d_out // heads, heads=heads)
    if kind == "sage":
        return gnn.SAGEConv(d_in, d_out)
    mlp = nn.Sequential(nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU(), nn.Linear(d_out, d_out))
    return gnn.GINConv(mlp, train_eps=False)


class GNN(nn.Module):
    """``layers`` message-passing layers (``conv``), each followed by an activation (PReLU, as
    DGI/GRACE/BGRL use) except that the last one's is kept too (their encoders end with it).

    Args:
        input_spec: the graph's :class:`GraphSpec` (feature width, task).
        conv: ``gcn`` (Kipf & Welling 2017), ``gat`` (Veličković et al. 2018), ``gin`` (Xu et al.
            2019), ``sage`` (Hamilton et al. 2017).
        hidden_dim: width of every layer but the last.
        output_dim: width of the last layer, the embedding ``D``.
        layers: number of message-passing layers.
        heads: attention heads of ``gat`` (widths must divide by it).
        dropout: dropout on each layer's input (0: none).
        readout: graph level, how node embeddings pool to one per graph.
        batch_norm: batch normalisation after each layer (GraphCL/InfoGraph's GIN uses it).
        layer_outputs: ``last`` — the embedding is the last layer's output; ``concat`` — every
            layer's output side by side (``D`` = the sum of the widths), the jumping-knowledge
            readout of Xu et al. 2018 that InfoGraph's and GraphCL's GIN encoders use.
    """

    def __init__(
        self,
        input_spec: GraphSpec,
        conv: str = "gcn",
        hidden_dim: int = 256,
        output_dim: int = 256,
        layers: int = 2,
        heads: int = 4,
        dropout: float = 0.0,
        readout: str = "mean",
        batch_norm: bool = False,
        layer_outputs: str = "last",
    ) -> None:
        super().__init__()
        if conv not in CONVS or readout not in READOUTS:
            raise ValueError(f"conv must be one of {', '.join(CONVS)} and readout one of {', '.join(READOUTS)}, "
                             f"got {conv!r} and {readout!r}")
        for name, value in (("hidden_dim", hidden_dim), ("output_dim", output_dim), ("layers", layers), ("heads", heads)):
            check_int(value, name)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if layer_outputs not in LAYER_OUTPUTS:
            raise ValueError(f"layer_outputs must be one of {', '.join(LAYER_OUTPUTS)}, got {layer_outputs!r}")
        if conv == "gat" and (hidden_dim % heads or output_dim % heads):
            raise ValueError(f"hidden_dim and output_dim must be multiples of heads={heads} for gat")
        widths = [input_spec.num_features] + [hidden_dim] * (layers - 1) + [output_dim]
        self.convs = nn.ModuleList(_conv(conv, a, b, heads) for a, b in zip(widths[:-1], widths[1:]))
        self.acts = nn.ModuleList(nn.PReLU(b) for b in widths[1:])
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) if batch_norm else nn.Identity() for b in widths[1:])
        self.dropout = nn.Dropout(dropout)
        self.readout = readout
        self.task = input_spec.task
        self.input_dim = input_spec.num_features
        self.concat = layer_outputs == "concat"
        self.output_dim = sum(widths[1:]) if self.concat else output_dim
        self.takes_edge_weight = conv == "gcn"  # GCNConv(x, edge_index, edge_weight)

    def node_embeddings(self, g: Graphs) -> torch.Tensor:
        """Every node's embedding ``[n, D]`` (edges weighted by ``g.edge_weight`` where set and the
        convolutions take weights, ``gcn``; the others ignore it)."""
        h = g.x
        weight = (g.edge_weight,) if g.edge_weight is not None and self.takes_edge_weight else ()
        outputs = []
        for conv, act, norm in zip(self.convs, self.acts, self.norms):
            h = norm(act(conv(self.dropout(h), g.edge_index, *weight)))
            outputs.append(h)
        return torch.cat(outputs, dim=1) if self.concat else h

    def pool(self, h: torch.Tensor, g: Graphs) -> torch.Tensor:
        """Graph level: node embeddings ``[n, D]`` pooled per graph to ``[B, D]``."""
        from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

        pool = {"mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool}[self.readout]
        return pool(h, g.batch, size=g.num_graphs)

    def forward(self, g: Graphs) -> torch.Tensor:
        h = self.node_embeddings(g)
        return h[g.nodes] if g.node_level else self.pool(h, g)


def _register(name: str, conv: str, description: str, **defaults: Any) -> None:
    def build(input_spec: GraphSpec, **kwargs: Any) -> GNN:
        return GNN(input_spec, conv=conv, **{**defaults, **kwargs})

    # the signature recipes are checked against: GNN's, without conv, with this encoder's defaults
    params = [p.replace(default=defaults.get(p.name, p.default))
              for p in inspect.signature(GNN).parameters.values() if p.name != "conv"]
    build.__signature__ = inspect.Signature(params)
    build.__name__ = name
    build.__doc__ = description
    ENCODERS.register(name, modality="graph", description=description)(build)


_register("gcn", "gcn", "graph convolutional network (Kipf & Welling 2017), PReLU; 2 layers, 256 wide")
_register("gat", "gat", "graph attention network (Veličković et al. 2018), 4 heads; 2 layers, 256 wide")
_register("gin", "gin", "graph isomorphism network (Xu et al. 2019) with batch norm, sum readout; 3 layers, 128 wide",
          layers=3, hidden_dim=128, output_dim=128, readout="sum", batch_norm=True)
_register("sage", "sage", "GraphSAGE, mean aggregation (Hamilton et al. 2017); 2 layers, 256 wide")

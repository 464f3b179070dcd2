"""What a graph batch is: :class:`Graphs`, the ``"x"`` of every graph batch, and the input spec.

One structure serves both tasks:

- **node level** (one graph, the samples are its nodes): ``x``/``edge_index`` are the whole
  graph (or a sampled neighbourhood of the batch's nodes) and ``nodes`` ``[B]`` the positions of
  the batch's nodes in it; an encoder returns their embeddings, ``[B, D]``;
- **graph level** (many graphs, the samples are graphs): the batch's graphs side by side (PyG's
  block-diagonal batching), ``batch`` ``[n]`` says which graph each node belongs to; an
  encoder pools node embeddings to ``[B, D]``.

Views return new :class:`Graphs` (edges dropped, features masked …) with the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch


@dataclass(frozen=True)
class GraphSpec:
    """One input: node feature width and the task (``node`` or ``graph``)."""

    num_features: int
    task: str = "node"

    def to_dict(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "task": self.task}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GraphSpec:
        return cls(int(data["num_features"]), str(data.get("task", "node")))


@dataclass
class Graphs:
    """Node features ``x [n, F]``, ``edge_index [2, E]`` and which samples the batch holds;
    ``edge_weight [E]``, when set, weights the edges (encoders whose convolutions take weights,
    ``gcn``, use them; MVGRL's diffusion view sets it)."""

    x: torch.Tensor
    edge_index: torch.Tensor
    nodes: torch.Tensor | None = None  # node level: the batch's nodes [B]
    batch: torch.Tensor | None = None  # graph level: graph of each node [n]
    num_graphs: int = 0
    edge_weight: torch.Tensor | None = None  # optional [E] weights of edge_index (a diffusion's)

    @property
    def node_level(self) -> bool:
        return self.nodes is not None

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: Any, non_blocking: bool = False) -> Graphs:
        move = lambda t: None if t is None else t.to(device, non_blocking=non_blocking)
        return Graphs(move(self.x), move(self.edge_index), move(self.nodes), move(self.batch), self.num_graphs,
                      move(self.edge_weight))

    def __len__(self) -> int:
        return int(self.nodes.shape[0]) if self.nodes is not None else self.num_graphs

    def raw_features(self) -> torch.Tensor:
        """The samples' input features ``[B, F]``, the raw-input baseline of the evaluation: the
        batch nodes' own features, or each graph's mean node features."""
        if self.nodes is not None:
            return self.x[self.nodes]
        total = torch.zeros(self.num_graphs, self.x.shape[1], dtype=self.x.dtype, device=self.x.device)
        counts = torch.bincount(self.batch, minlength=self.num_graphs).clamp(min=1).unsqueeze(1)
        return total.index_add_(0, self.batch, self.x) / counts

    def keep_edges(self, keep: torch.Tensor) -> Graphs:
        """The graph with only the edges where ``keep [E]`` (bool) is true, their weights with them."""
        weight = None if self.edge_weight is None else self.edge_weight[keep]
        return replace(self, edge_index=self.edge_index[:, keep], edge_weight=weight)

    def with_(self, **changes: Any) -> Graphs:
        return replace(self, **changes)

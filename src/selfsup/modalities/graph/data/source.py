"""Graph data as a :class:`~selfsup.data.DataSource`: node-level (the samples are the nodes of one
graph) and graph-level (the samples are graphs), from arrays.

- Node level: pretraining batches are sets of the graph's nodes; message passing uses the whole
  graph, as the transductive papers (DGI, GRACE, BGRL) do, or, with ``neighbors`` (fanouts per
  hop, ``data.options.neighbors: [10, 10]``), a neighbourhood sampled around each batch's nodes
  (:mod:`~selfsup.modalities.graph.data.sampling`), for graphs too big for that. The held-out split is the graph's
  ``test_mask`` when it has one (Planetoid), else a seeded stratified ``test_fraction`` of the
  labelled nodes; every other node is a training sample.
- Graph level: a seeded stratified split of the graphs; a batch is its graphs side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from selfsup.data import DataSource
from selfsup.data.splits import stratified_split
from selfsup.errors import SelfsupError
from selfsup.eval.protocols import ProbeProtocol, as_positions
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec


class Samples(Dataset):
    """The samples of a split (node or graph ids) with their labels."""

    def __init__(self, ids: torch.Tensor, y: torch.Tensor | None) -> None:
        self.ids, self.y = ids, y

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        items = {"ids": self.ids[index], "index": index}
        if self.y is not None:
            items["y"] = self.y[index]
        return items

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([i])


class NodeCollate:
    """Node batches: the whole graph and the positions of the batch's nodes in it."""

    def __init__(self, x: torch.Tensor, edge_index: torch.Tensor) -> None:
        self.x, self.edge_index = x, edge_index

    def __call__(self, items: dict[str, torch.Tensor]) -> dict[str, Any]:
        items = merge_items(items)
        batch = {"x": Graphs(self.x, self.edge_index, nodes=items["ids"]), "index": items["index"]}
        if "y" in items:
            batch["y"] = items["y"]
        return batch


class GraphCollate:
    """Graph batches: the batch's graphs side by side, node ids renumbered from 0."""

    def __init__(self, x: torch.Tensor, edge_index: torch.Tensor, graph_index: torch.Tensor) -> None:
        num_graphs = int(graph_index.max()) + 1 if graph_index.numel() else 0
        self.x = x
        counts = torch.bincount(graph_index, minlength=num_graphs)
        self.node_ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
        edge_graph = graph_index[edge_index[0]]
        order = torch.argsort(edge_graph, stable=True)
        self.edge_index = edge_index[:, order]
        edge_counts = torch.bincount(edge_graph, minlength=num_graphs)
        self.edge_ptr = torch.cat([torch.zeros(1, dtype=torch.long), edge_counts.cumsum(0)])

    def __call__(self, items: dict[str, torch.Tensor]) -> dict[str, Any]:
        items = merge_items(items)
        graphs = items["ids"]
        n_nodes = self.node_ptr[graphs + 1] - self.node_ptr[graphs]
        n_edges = self.edge_ptr[graphs + 1] - self.edge_ptr[graphs]
        nodes = _ranges(self.node_ptr[graphs], n_nodes)
        edges = _ranges(self.edge_ptr[graphs], n_edges)
        new_start = torch.cat([torch.zeros(1, dtype=torch.long), n_nodes.cumsum(0)[:-1]])
        shift = torch.repeat_interleave(new_start - self.node_ptr[graphs], n_edges)
        batch_vector = torch.repeat_interleave(torch.arange(len(graphs)), n_nodes)
        x = Graphs(self.x[nodes], self.edge_index[:, edges] + shift, batch=batch_vector, num_graphs=len(graphs))
        batch = {"x": x, "index": items["index"]}
        if "y" in items:
            batch["y"] = items["y"]
        return batch


def _ranges(starts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``cat([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    total = int(counts.sum())
    offsets = torch.repeat_interleave(starts - torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)[:-1]]), counts)
    return torch.arange(total) + offsets


def merge_items(items: Any) -> dict[str, torch.Tensor]:
    """What ``__getitems__`` returned, or a list of single items (a loader without it)."""
    if isinstance(items, dict):
        return items
    return {k: torch.cat([item[k].reshape(-1) for item in items]) for k in items[0]}


def _labels(y: np.ndarray | None) -> torch.Tensor | None:
    return None if y is None else torch.as_tensor(np.asarray(y), dtype=torch.long)


def node_source(
    name: str,
    x: np.ndarray,
    edge_index: np.ndarray,
    y: np.ndarray | None = None,
    test_mask: np.ndarray | None = None,
    class_names: list[str] | None = None,
    notes: list[str] | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    neighbors: list[int] | None = None,
    train_mask: np.ndarray | None = None,
    val_mask: np.ndarray | None = None,
) -> DataSource:
    """One graph whose nodes are the samples (see the module docstring for the split).
    ``neighbors``: sample up to ``neighbors[h]`` neighbours per node at hop ``h`` for each batch
    instead of passing the whole graph (GraphSAGE / ``NeighborLoader``-style mini-batches).
    ``train_mask`` / ``val_mask`` (with ``test_mask``): the split the Planetoid protocol's probe
    fits on and chooses its penalty on; without them, 10 random 10/10/80 % splits
    (:mod:`selfsup.eval.protocols`)."""
    n = int(x.shape[0])
    notes = list(notes or [])
    all_nodes = np.arange(n)
    if y is None:
        train_ids, test_ids = all_nodes, None
    elif test_mask is not None:
        test_ids = np.flatnonzero(test_mask)
        train_ids = np.flatnonzero(~np.asarray(test_mask, dtype=bool))
    else:
        train_pos, test_pos, split_notes = stratified_split(np.asarray(y), test_fraction, seed, class_names)
        train_ids, test_ids = all_nodes[train_pos], all_nodes[test_pos]
        notes += split_notes
    features = torch.as_tensor(np.asarray(x, dtype=np.float32))
    edges = torch.as_tensor(np.asarray(edge_index, dtype=np.int64))
    labels = _labels(y)
    train = Samples(torch.as_tensor(train_ids), None if labels is None else labels[train_ids])
    test = None if test_ids is None or len(test_ids) == 0 else Samples(torch.as_tensor(test_ids), labels[test_ids])
    if neighbors is None:
        collate = NodeCollate(features, edges)
    else:
        from selfsup.modalities.graph.data.sampling import SampledNodeCollate

        try:
            collate = SampledNodeCollate(features, edges, neighbors)
        except ValueError as error:
            raise SelfsupError(f"{name}: data.options.{error}") from None
        del edges
    protocol = None if test is None else _node_protocol(train_ids, test_mask, train_mask, val_mask, seed)
    return DataSource(
        name=name, modality="graph", train=train, test=test, collate=collate,
        input_spec=GraphSpec(int(features.shape[1]), "node"),
        y_train=train.y, y_test=None if test is None else test.y,
        class_names=class_names, notes=notes, source_index=_order(train_ids, test_ids), protocol=protocol,
    )


def _node_protocol(train_ids: np.ndarray, test_mask: np.ndarray | None, train_mask: np.ndarray | None,
                   val_mask: np.ndarray | None, seed: int) -> ProbeProtocol:
    """Planetoid's fixed split when the graph gives its training (and test) nodes, else random splits."""
    if test_mask is None or train_mask is None or not np.any(train_mask):
        return ProbeProtocol("random_splits", seed=seed)
    val = None if val_mask is None or not np.any(val_mask) else as_positions(np.flatnonzero(val_mask), train_ids)
    return ProbeProtocol("fixed_split", train=as_positions(np.flatnonzero(train_mask), train_ids), val=val,
                         seed=seed)


def _order(train_ids: np.ndarray, test_ids: np.ndarray | None) -> torch.Tensor:
    """The node (graph) id of each sample, train split then test split: ``embed`` undoes it."""
    parts = [train_ids] + ([] if test_ids is None else [test_ids])
    return torch.as_tensor(np.concatenate(parts), dtype=torch.long)


def graph_source(
    name: str,
    x: np.ndarray,
    edge_index: np.ndarray,
    graph_index: np.ndarray,
    y: np.ndarray | None = None,
    class_names: list[str] | None = None,
    notes: list[str] | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
) -> DataSource:
    """Many graphs, each a sample: ``graph_index [n]`` says which graph each node belongs to."""
    graph_index = np.asarray(graph_index, dtype=np.int64)
    if graph_index.size and np.any(np.diff(graph_index) < 0):
        raise SelfsupError(f"{name}: graph_index must be sorted (the nodes of each graph together).")
    num_graphs = int(graph_index.max()) + 1 if graph_index.size else 0
    if num_graphs < 2:
        raise SelfsupError(f"{name} holds {num_graphs} graph(s); graph-level training needs many graphs "
                           "(for one graph, use task: node).")
    notes = list(notes or [])
    ids = np.arange(num_graphs)
    if y is None:
        train_ids, test_ids = ids, None
    else:
        train_ids, test_ids, split_notes = stratified_split(np.asarray(y), test_fraction, seed, class_names)
        notes += split_notes
    labels = _labels(y)
    collate = GraphCollate(torch.as_tensor(np.asarray(x, dtype=np.float32)),
                           torch.as_tensor(np.asarray(edge_index, dtype=np.int64)), torch.as_tensor(graph_index))
    train = Samples(torch.as_tensor(train_ids), None if labels is None else labels[train_ids])
    test = None if test_ids is None or len(test_ids) == 0 else Samples(torch.as_tensor(test_ids), labels[test_ids])
    return DataSource(
        name=name, modality="graph", train=train, test=test, collate=collate,
        input_spec=GraphSpec(int(np.asarray(x).shape[1]), "graph"),
        y_train=train.y, y_test=None if test is None else test.y,
        class_names=class_names, notes=notes, source_index=_order(train_ids, test_ids),
        protocol=None if test is None else ProbeProtocol("svm_cv", seed=seed),
    )

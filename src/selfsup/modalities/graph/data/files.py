"""Graph files -> DataSource: the readers give arrays (:mod:`readers`), this picks the task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from selfsup.data import DataSource
from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.source import graph_source, node_source

TASKS = ("node", "graph")


def read_graph(path: str | Path, seed: int = 0, test_fraction: float = 0.2, task: str | None = None,
               neighbors: list[int] | None = None, **options: Any) -> DataSource:
    """Read a graph file or folder; ``task`` (``node`` | ``graph``) defaults to ``graph`` when the
    file holds many graphs (a ``graph_index`` or a TU folder), else ``node``. ``neighbors`` (node
    task, e.g. ``[10, 10]``): sampled-neighbourhood mini-batches instead of the whole graph."""
    from selfsup.modalities.graph.data.readers import read_graph_file

    path = Path(path)
    g = read_graph_file(path, **options)
    many = g.graph_index is not None
    task = task or ("graph" if many else "node")
    if task not in TASKS:
        raise SelfsupError(f"data.options.task must be one of {', '.join(TASKS)}, got {task!r}.")
    x = g.x if g.x is not None else _degree_features(g.edge_index, _num_nodes(g))
    notes = list(g.notes) + ([] if g.x is not None else [f"{path.name} has no node features; using one-hot degrees."])
    if task == "graph":
        if not many:
            raise SelfsupError(f"{path} holds one graph: a graph-level task needs many (a graph_index). "
                               "Use data.options.task=node to learn node embeddings.")
        if neighbors is not None:
            raise SelfsupError("data.options.neighbors samples the neighbourhoods of nodes of one graph; "
                               "a graph-level task passes each graph whole (drop neighbors).")
        return graph_source(str(path), x, g.edge_index, g.graph_index, g.y, g.class_names, notes, seed, test_fraction)
    if many:
        raise SelfsupError(f"{path} holds many graphs; node-level tasks take one. Use data.options.task=graph.")
    return node_source(str(path), x, g.edge_index, g.y, g.test_mask, g.class_names, notes, seed, test_fraction,
                       neighbors=neighbors, train_mask=g.train_mask, val_mask=g.val_mask)


def _num_nodes(g: Any) -> int:
    return int(g.num_nodes) if g.num_nodes is not None else int(g.edge_index.max()) + 1


def _degree_features(edge_index: np.ndarray, n: int, cap: int = 32) -> np.ndarray:
    """One-hot node degree (capped), the usual stand-in for missing features (GIN, InfoGraph)."""
    degree = np.minimum(np.bincount(edge_index[0], minlength=n), cap)
    return np.eye(cap + 1, dtype=np.float32)[degree]

"""GraphML / GML through networkx -> :class:`GraphArrays`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.arrays import (
    LABEL_COLUMNS,
    NETWORKX_HINT,
    GraphArrays,
    check_graph,
)


def read_networkx(path: str | Path, target: str | None = None) -> GraphArrays:
    """Read one graph from ``.graphml`` or ``.gml`` through networkx.

    Numeric node attributes (every node must have them) become features, in sorted order of
    their names; the ``target`` attribute (default ``label`` or ``y``) becomes ``y``; text
    attributes and edge attributes are ignored with a note. Node ids are kept in ``node_ids``.
    """
    path = Path(path)
    try:
        import networkx as nx
    except ImportError:
        raise SelfsupError(f"Cannot read {path}. {NETWORKX_HINT}") from None
    kind = "GraphML" if path.suffix.lower() == ".graphml" else "GML"
    try:
        if kind == "GraphML":
            graph = nx.read_graphml(path)
        else:
            graph = nx.read_gml(path, label=None)
    except Exception as error:  # noqa: BLE001 - any parse failure is the user's file
        raise SelfsupError(f"Could not read {path} as {kind}: {error}") from None
    nodes = list(graph.nodes)
    if not nodes:
        raise SelfsupError(f"{path} holds no nodes.")
    data = [graph.nodes[v] for v in nodes]
    names = sorted({key for d in data for key in d})
    if target is not None and target not in names:
        raise SelfsupError(
            f"{path} has no node attribute {target!r} (option target); its node attributes: "
            f"{', '.join(names) or 'none'}."
        )
    node_ids = np.asarray([str(v) for v in nodes], dtype=str)
    notes: list[str] = []
    label, y, names_only = None, None, set()
    candidates = [target] if target is not None else [c for c in LABEL_COLUMNS if c in names]
    for candidate in candidates:
        missing = [i for i, d in enumerate(data) if candidate not in d]
        if missing:
            raise SelfsupError(
                f"{path}: node {str(node_ids[missing[0]])!r} has no {candidate!r} attribute (the "
                "label); give every node one."
            )
        values = np.asarray([str(d[candidate]) for d in data], dtype=str)
        if target is None and len(np.unique(values)) == len(values) > 1:
            notes.append(
                f"{path.name}: node attribute {candidate!r} differs on every node, so it is read "
                f"as a node name, not a class; pass target={candidate} to use it as the label."
            )
            names_only.add(candidate)
            if candidate == "label":
                node_ids = values
            continue
        label, y = candidate, values
        break
    features, used, ignored = [], [], []
    for name in names:
        if name == label or name in names_only:
            continue
        values = [d.get(name) for d in data]
        numeric = [isinstance(v, (int, float, np.number)) for v in values]
        if not any(numeric):
            ignored.append(name)
            continue
        if not all(numeric):
            i = numeric.index(False)
            raise SelfsupError(
                f"{path}: node {str(node_ids[i])!r} lacks a number for the attribute {name!r} (it "
                f"has {values[i]!r}); numeric attributes need a number on every node."
            )
        features.append(np.asarray(values, dtype=np.float64))
        used.append(name)
    x = np.stack(features, axis=1) if features else None
    if used:
        notes.append(f"{path.name}: node features from attribute(s) {', '.join(used)}.")
    if ignored:
        notes.append(f"{path.name}: ignored non-numeric node attribute(s) {', '.join(ignored)}.")
    edge_attributes = sorted({k for *_, d in graph.edges(data=True) for k in d})
    if edge_attributes:
        notes.append(f"{path.name}: ignored edge attribute(s) {', '.join(edge_attributes)}.")
    index = {v: i for i, v in enumerate(nodes)}
    pairs = np.fromiter(
        (index[e] for u, v in graph.edges() for e in (u, v)), dtype=np.int64,
        count=2 * graph.number_of_edges(),
    )
    graph_arrays = GraphArrays(
        x, pairs.reshape(-1, 2).T, y, notes=notes, name=path.stem, num_nodes=len(nodes),
        node_ids=node_ids,
    )
    return check_graph(graph_arrays, str(path))


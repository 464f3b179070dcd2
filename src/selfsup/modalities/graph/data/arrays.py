"""What every graph reader returns (:class:`GraphArrays`) and the checks every result goes
through (:func:`check_graph`): ids in range, finite features, masks, labels; self-loops and
duplicate edges removed and directed lists symmetrised, each said in ``notes``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from selfsup.errors import SelfsupError

MASKS = ("train_mask", "val_mask", "test_mask")
LABEL_COLUMNS = ("label", "y")  # default target column / attribute, first present wins
EDGE_COLUMN_PAIRS = (
    ("source", "target"), ("src", "dst"), ("from", "to"), ("u", "v"), ("node1", "node2"),
    ("source_id", "target_id"), ("src_id", "dst_id"), ("head", "tail"),
)
NETWORKX_HINT = "Reading .graphml / .gml files needs networkx: pip install networkx."
FORMATS = (
    ".npz (keys x, edge_index, y, masks; or the Shchur et al. CSR npz), an edge-list .csv, "
    "a TU folder (DS_A.txt, DS_graph_indicator.txt, ...), or .graphml / .gml"
)


@dataclass
class GraphArrays:
    """One graph (or many, see ``graph_index``) as plain NumPy arrays."""

    x: np.ndarray | None
    """float32 ``[N, F]`` node features, or None when the file has none."""
    edge_index: np.ndarray
    """int64 ``[2, E]`` (source, target) node indices in ``0..N-1``."""
    y: np.ndarray | None = None
    """int64 labels ``0..K-1``: ``[N]`` for one graph, ``[G]`` (per graph) for many."""
    graph_index: np.ndarray | None = None
    """int64 ``[N]`` graph of each node (``0..G-1``, non-decreasing); None = one graph."""
    train_mask: np.ndarray | None = None
    """bool ``[N]`` (one graph) or ``[G]`` (many graphs); likewise ``val_mask``, ``test_mask``."""
    val_mask: np.ndarray | None = None
    test_mask: np.ndarray | None = None
    class_names: list[str] | None = None
    """The original label values, as strings, of classes ``0..K-1``."""
    notes: list[str] = field(default_factory=list)
    """One-time messages for the user (edges removed or added, ids remapped, ...)."""
    name: str = "graph"
    num_nodes: int | None = None
    """N; inferred from ``x``, ``graph_index``, ``node_ids``, ``y``/masks or the edges if None."""
    node_ids: np.ndarray | None = None
    """str ``[N]`` original node ids where the file had its own (CSV, GraphML), else None."""

    def __post_init__(self) -> None:
        if self.num_nodes is None:
            self.num_nodes = _infer_num_nodes(self)

    @property
    def graph_level(self) -> bool:
        """Many graphs: ``y`` and the masks are per graph."""
        return self.graph_index is not None

    @property
    def num_graphs(self) -> int:
        if self.graph_index is None or len(self.graph_index) == 0:
            return 1
        return int(np.max(self.graph_index)) + 1


def _infer_num_nodes(g: GraphArrays) -> int:
    for array in (g.x, g.graph_index, g.node_ids):
        if array is not None and np.ndim(array) >= 1:
            return len(array)
    if g.graph_index is None:
        for array in (g.y, g.train_mask, g.val_mask, g.test_mask):
            if array is not None and np.ndim(array) >= 1:
                return len(array)
    edges = np.asarray(g.edge_index)
    if edges.size and np.issubdtype(edges.dtype, np.number):
        return int(np.max(edges)) + 1
    return 0


# --------------------------------------------------------------------------- dispatch



def check_graph(
    g: GraphArrays, where: str, describe_edge: Callable[[int], str] | None = None
) -> GraphArrays:
    """Validate ``g`` in place and make it an undirected simple graph; returns ``g``.

    ``where`` names the source (a file) in messages; ``describe_edge(k)`` says how a user finds
    edge ``k`` (column ``k`` of ``edge_index``) in it, e.g. ``"DS_A.txt line 7"``.
    Labels are encoded to ``0..K-1`` here when ``class_names`` is None.
    """
    describe = describe_edge or (lambda k: f"edge {k} (column {k} of edge_index)")
    n = int(g.num_nodes or 0)
    short = Path(where).name
    if n <= 0:
        raise SelfsupError(f"{where} holds no nodes.")

    def node(i: int) -> str:
        return f"node {i}" + (f" (id {str(g.node_ids[i])!r})" if g.node_ids is not None else "")

    if g.x is not None:
        g.x = _features(g.x, where, n, node)
    edges = edge_array(g.edge_index, where, "edge_index")
    if edges.shape[1] == 0:
        raise SelfsupError(f"{where} has no edges; a graph needs at least one edge.")
    if edges.min() < 0 or edges.max() >= n:
        k = int(np.argmax(((edges < 0) | (edges >= n)).any(axis=0)))
        raise SelfsupError(
            f"{where}: {describe(k)} joins nodes {int(edges[0, k])} and {int(edges[1, k])}, but "
            f"node indices must lie in 0..{n - 1} ({n} nodes)."
        )
    groups = n
    if g.graph_index is not None:
        g.graph_index = _graph_index(g.graph_index, where, n)
        groups = int(g.graph_index[-1]) + 1
        crossing = g.graph_index[edges[0]] != g.graph_index[edges[1]]
        if crossing.any():
            k = int(np.argmax(crossing))
            raise SelfsupError(
                f"{where}: {describe(k)} joins node {int(edges[0, k])} of graph "
                f"{int(g.graph_index[edges[0, k]])} to node {int(edges[1, k])} of graph "
                f"{int(g.graph_index[edges[1, k]])}; an edge must stay inside one graph."
            )
    unit = "graphs" if g.graph_index is not None else "nodes"
    if g.y is not None:
        g.y, names = _labels(g.y, where, groups, unit, "y", g.class_names is None)
        if g.class_names is None:
            g.class_names = names
    _check_masks(g, where, groups, unit)
    g.edge_index, notes = _simplify(edges, n, short)
    g.notes += notes
    touched = np.zeros(n, dtype=bool)
    touched[g.edge_index[0]] = True
    isolated = n - int(touched.sum())
    if isolated:
        g.notes.append(f"{short} has {isolated} isolated node(s) (no edges) out of {n}.")
    g.num_nodes = n
    return g


def _simplify(edges: np.ndarray, n: int, short: str) -> tuple[np.ndarray, list[str]]:
    """Drop self-loops and duplicates, add missing reverse edges; sorted ``[2, E']`` + notes.

    Edges are handled as keys ``source * N + target`` (one sort, no np.unique, few copies).
    """
    notes = []
    n64 = np.int64(n)
    keys = edges[0] * n64
    keys += edges[1]
    loops = edges[0] == edges[1]
    n_loops = int(np.count_nonzero(loops))
    if n_loops:
        keys = keys[~loops]
        notes.append(f"Removed {n_loops} self-loop(s) from {short}.")
        if len(keys) == 0:
            raise SelfsupError(f"{short} holds only self-loops: no edges between nodes remain.")
    total = len(keys)
    keys = _sorted_unique(keys)
    if total != len(keys):
        notes.append(f"Removed {total - len(keys)} duplicate edge(s) from {short}.")
    src, dst = np.divmod(keys, n64)
    reverse = dst * n64
    reverse += src
    reverse.sort()
    if not np.array_equal(keys, reverse):  # the edge set is not its own reverse
        before = len(keys)
        keys = _sorted_unique(np.concatenate([keys, reverse]))
        notes.append(
            f"Added {len(keys) - before} reverse edge(s): {short} held a directed edge list "
            "(some edges without their reverse); the graph is read as undirected."
        )
        src, dst = np.divmod(keys, n64)
    return np.stack([src, dst]), notes


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """Sort ``keys`` in place and drop repeats (sort + diff: np.unique can be far slower)."""
    keys.sort()
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return keys if first.all() else keys[first]


def _features(x: Any, where: str, n: int, node: Callable[[int], str]) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise SelfsupError(
            f"{where}: node features x have dtype {x.dtype}; they must be numbers "
            "(e.g. x.astype(np.float32))."
        )
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise SelfsupError(
            f"{where}: node features x have shape {list(x.shape)}; they must be [N, F]."
        )
    if len(x) != n:
        raise SelfsupError(f"{where}: node features x have {len(x)} rows but there are {n} nodes.")
    with np.errstate(over="ignore"):
        x = x.astype(np.float32)
    finite = np.isfinite(x)
    if not finite.all():
        i, j = (int(v[0]) for v in np.nonzero(~finite))
        raise SelfsupError(
            f"{where}: {node(i)} has a NaN or infinite feature (column {j}: {x[i, j]}); fill "
            "or drop it (float32 overflow counts as infinite)."
        )
    return x


def edge_array(edges: Any, where: str, key: str) -> np.ndarray:
    """int64 ``[2, E]`` from ``[2, E]`` / ``[E, 2]`` integer (or integral float) values."""
    edges = np.asarray(edges)
    if edges.ndim != 2 or 2 not in edges.shape:
        raise SelfsupError(
            f"{where}: {key} has shape {list(edges.shape)}; it must be [2, E] (sources, targets)."
        )
    if edges.shape[0] != 2:
        edges = edges.T
    if edges.dtype.kind in "iu":
        return edges.astype(np.int64, copy=False)
    if edges.dtype.kind == "f":
        integral = np.isfinite(edges) & (edges == np.round(edges))
        if not integral.all():
            k = int(np.argmax(~integral.all(axis=0)))
            raise SelfsupError(
                f"{where}: {key} holds non-integer node indices (edge {k}: "
                f"{edges[0, k]}, {edges[1, k]}); node indices must be whole numbers."
            )
        return edges.astype(np.int64)
    raise SelfsupError(
        f"{where}: {key} has dtype {edges.dtype}; it must hold integer node indices."
    )


def _graph_index(graph_index: Any, where: str, n: int) -> np.ndarray:
    gi = np.asarray(graph_index)
    if gi.ndim != 1 or len(gi) != n:
        raise SelfsupError(
            f"{where}: graph_index has shape {list(gi.shape)}; it must give one graph per node "
            f"([{n}])."
        )
    if gi.dtype.kind not in "iu":
        raise SelfsupError(f"{where}: graph_index has dtype {gi.dtype}; it must hold integers.")
    gi = gi.astype(np.int64, copy=False)
    step = np.diff(gi)
    if gi[0] != 0 or (step < 0).any() or (step > 1).any():
        if gi[0] != 0:
            k, what = 0, f"starts at {int(gi[0])}"
        else:
            k = int(np.argmax((step < 0) | (step > 1))) + 1
            what = f"goes from {int(gi[k - 1])} to {int(gi[k])} at node {k}"
        raise SelfsupError(
            f"{where}: graph_index {what}; graph ids must run 0..G-1 without gaps, the nodes of "
            "each graph listed together in graph order."
        )
    return gi


def _labels(
    y: Any, where: str, count: int, unit: str, key: str, encode: bool
) -> tuple[np.ndarray, list[str]]:
    """Labels -> int64 ``0..K-1`` and class names (or validated as they are if not ``encode``)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise SelfsupError(
            f"{where}: {key} has shape {list(y.shape)}; labels must be a vector [{count}] "
            f"(one per {unit[:-1]})."
        )
    if len(y) != count:
        raise SelfsupError(
            f"{where}: {key} has {len(y)} labels but there are {count} {unit}; give one label "
            f"per {unit[:-1]}."
        )
    if not encode:
        if y.dtype.kind not in "iu" or (len(y) and y.min() < 0):
            raise SelfsupError(
                f"{where}: {key} must hold class indices 0..K-1 when class_names are given."
            )
        return y.astype(np.int64, copy=False), []
    if y.dtype.kind in "US":
        text = np.char.strip(y.astype(str))
        try:
            y = text.astype(np.float64)  # numeric text: "2" sorts before "10"
        except ValueError:
            y = text
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    elif y.dtype.kind == "c":
        raise SelfsupError(f"{where}: {key} holds complex numbers; labels must be real or text.")
    elif y.dtype.kind == "f":
        finite = np.isfinite(y)
        if not finite.all():
            i = int(np.argmin(finite))
            raise SelfsupError(
                f"{where}: {key} holds NaN/inf labels (first for {unit[:-1]} {i}); give every "
                f"{unit[:-1]} a label."
            )
        if np.all(y == np.round(y)):
            y = y.astype(np.int64)  # 3.0 -> class "3", not "3.0"
    elif y.dtype.kind not in "iuU":
        raise SelfsupError(f"{where}: {key} has dtype {y.dtype}; labels must be numbers or text.")
    classes, codes = np.unique(y, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), [str(c) for c in classes.tolist()]


def _check_masks(g: GraphArrays, where: str, count: int, unit: str) -> None:
    masks = {}
    for key in MASKS:
        mask = getattr(g, key)
        if mask is None:
            continue
        mask = np.asarray(mask)
        if mask.ndim == 2 and mask.shape[1] == 1:
            mask = mask[:, 0]
        hint = (
            f"; it must be booleans [{count}] (True = {unit[:-1]} in the split). From indices: "
            f"mask = np.zeros({count}, bool); mask[idx] = True"
        )
        if mask.ndim != 1:
            raise SelfsupError(f"{where}: {key} has shape {list(mask.shape)}{hint}.")
        if mask.dtype.kind != "b":
            if mask.dtype.kind not in "iuf" or not np.isin(mask, (0, 1)).all():
                raise SelfsupError(f"{where}: {key} holds {mask.dtype} values, not 0/1{hint}.")
            mask = mask.astype(bool)
        if len(mask) != count:
            raise SelfsupError(f"{where}: {key} has {len(mask)} entries for {count} {unit}{hint}.")
        masks[key] = mask
        setattr(g, key, mask)
    keys = list(masks)
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            both = masks[keys[a]] & masks[keys[b]]
            if both.any():
                raise SelfsupError(
                    f"{where}: {keys[a]} and {keys[b]} overlap ({int(both.sum())} {unit} in both, "
                    f"first {unit[:-1]} {int(np.argmax(both))}); a {unit[:-1]} may be in one "
                    "split only."
                )


# --------------------------------------------------------------------------- .npz



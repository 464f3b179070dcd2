"""Graph files -> plain NumPy arrays (:class:`GraphArrays`), with one clear error per bad input.

Formats (:func:`read_graph_file` picks the reader from the suffix or the folder's contents):

- **``.npz``** with keys ``x [N, F]``, ``edge_index`` (``[2, E]`` or ``[E, 2]``), optional ``y``,
  ``train_mask``/``val_mask``/``test_mask``, ``graph_index [N]`` (alias ``batch``, PyG's name)
  for many graphs and ``num_nodes`` (when there is no ``x``). A PyG ``Data`` saved with
  ``np.savez(path, **{k: v.numpy() for k, v in data})`` has exactly these keys. The "Cora npz"
  of Shchur et al. (``adj_data``/``adj_indices``/``adj_indptr``/``adj_shape``, features as
  ``attr_*`` CSR or dense ``attr_matrix``, ``labels``) is read too. Nothing is unpickled.
- **Edge-list CSV** (:func:`read_edge_csv`): two columns of node ids (``source,target``,
  ``src,dst``, …, or the first two; the header is optional), any strings or integers; plus an
  optional node CSV (``id`` column or the first one, numeric feature columns, a label column).
- **TU folder** (:func:`read_tu`): ``DS_A.txt``, ``DS_graph_indicator.txt``, optional
  ``DS_graph_labels.txt``, ``DS_node_labels.txt`` (one-hot features) and
  ``DS_node_attributes.txt`` (features, before the one-hot node labels, as PyG orders them).
- **``.graphml`` / ``.gml``** (:func:`read_networkx`, needs networkx): numeric node attributes
  become features (sorted by name); the ``target`` attribute (default ``label`` or ``y``) is y.

Decisions (what a user can rely on), applied by :func:`check_graph` to every result:

- Graphs are undirected and simple: self-loops and duplicate edges are removed, and an edge
  list with some edge lacking its reverse gets the reverse edges added; a note gives the counts.
  ``edge_index`` comes back sorted by (source, target).
- Node ids that are not already ``0..N-1`` are remapped (sorted; integer ids as numbers);
  ``node_ids`` keeps the original ids as strings, in node order.
- Labels of any dtype map to ``0..K-1`` in sorted order (text labels that are all numbers sort
  as numbers), ``class_names`` keeping the values as strings.
- One graph: ``y`` and the masks hold one entry per node. Many graphs (``graph_index`` set):
  ``y`` and the masks hold one entry per graph; nodes of a graph are contiguous and graph ids
  run ``0..G-1``; no edge joins two graphs.
- Errors: ids outside ``0..N-1``, NaN/inf features, overlapping masks, label counts that do not
  match, and a graph without edges, each named by file, key or line.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from selfsup.data.base import np_load
from selfsup.errors import SelfsupError

__all__ = [
    "GraphArrays",
    "check_graph",
    "read_edge_csv",
    "read_graph_file",
    "read_networkx",
    "read_npz",
    "read_tu",
]

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


def read_graph_file(
    path: str | Path, *, nodes: str | Path | None = None, target: str | None = None
) -> GraphArrays:
    """Read a graph from ``.npz``, ``.csv``, ``.graphml``/``.gml`` or a folder (see module doc).

    A folder is read as a TU data set when it holds a ``*_A.txt`` file, else as an edge list
    when it holds ``edges.csv`` (with ``nodes.csv`` beside it, if any, as the node file).
    ``nodes`` (node CSV) applies to edge-list CSVs; ``target`` to CSV and GraphML/GML.
    """
    path = Path(path)
    if not path.exists():
        raise SelfsupError(f"{path} does not exist.")
    if nodes is not None and not (path.is_dir() or path.suffix.lower() == ".csv"):
        raise SelfsupError(
            f"Option nodes (a node CSV) applies to edge-list .csv files; {path} is not one."
        )
    if path.is_file() and path.name.endswith("_A.txt"):
        path = path.parent
    if path.is_dir():
        if any(path.glob("*_A.txt")):
            _no_target(target, path)
            return read_tu(path)
        if (path / "edges.csv").is_file():
            if nodes is None and (path / "nodes.csv").is_file():
                nodes = path / "nodes.csv"
            graph = read_edge_csv(path / "edges.csv", nodes, target)
            graph.name = path.name
            return graph
        raise SelfsupError(
            f"Cannot read the folder {path} as a graph: it needs a TU data set (DS_A.txt, "
            "DS_graph_indicator.txt, ...) or an edge list edges.csv (and optionally nodes.csv)."
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        _no_target(target, path)
        return read_npz(path)
    if suffix == ".csv":
        return read_edge_csv(path, Path(nodes) if nodes is not None else None, target)
    if suffix in (".graphml", ".gml"):
        return read_networkx(path, target)
    raise SelfsupError(f"Cannot read {path} as a graph: the graph modality reads {FORMATS}.")


def _no_target(target: str | None, path: Path) -> None:
    if target is not None:
        raise SelfsupError(
            f"Option target names a label column of a CSV or a node attribute of GraphML/GML; "
            f"{path} has its labels at a fixed place (y / labels / DS_graph_labels.txt)."
        )


# --------------------------------------------------------------------------- checks


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
    edges = _edge_array(g.edge_index, where, "edge_index")
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


def _edge_array(edges: Any, where: str, key: str) -> np.ndarray:
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


def read_npz(path: str | Path) -> GraphArrays:
    """Read a graph ``.npz``: ``x``/``edge_index``/... keys or the Shchur et al. CSR layout."""
    path = Path(path)
    archive = np_load(path)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise SelfsupError(
            f"{path} holds a single array, not named arrays; save a graph with "
            "np.savez(path, x=x, edge_index=edge_index, y=y)."
        )
    with archive:
        keys = set(archive.files)
        if {"adj_indices", "adj_indptr"} <= keys:
            return _read_csr_npz(path, archive)
        if "edge_index" not in keys:
            raise SelfsupError(
                f"{path} has no key 'edge_index' (its keys: {', '.join(sorted(keys)) or 'none'}). "
                "A graph .npz needs edge_index [2, E] and optionally x [N, F], y, train_mask, "
                "val_mask, test_mask, graph_index; or the CSR keys adj_data, adj_indices, "
                "adj_indptr, adj_shape."
            )
        where = str(path)
        notes: list[str] = []
        raw = _key(archive, path, "edge_index")
        edges = _edge_array(raw, f"{where} key 'edge_index'", "edge_index")
        if raw.ndim == 2 and raw.shape[0] != 2:
            notes.append(f"{path.name}: edge_index is [E, 2]; read as pairs (source, target).")
        x = _key(archive, path, "x") if "x" in keys else None
        gi_key = "graph_index" if "graph_index" in keys else ("batch" if "batch" in keys else None)
        graph_index = _key(archive, path, gi_key) if gi_key else None
        y = _key(archive, path, "y") if "y" in keys else None
        if y is not None:
            y, note = _one_hot_labels(y, path)
            notes += note
        masks = {k: _key(archive, path, k) for k in MASKS if k in keys}
        num_nodes = None
        if "num_nodes" in keys:
            value = _key(archive, path, "num_nodes")
            if value.size != 1 or value.dtype.kind not in "iu" or int(value) < 1:
                raise SelfsupError(f"{path} key 'num_nodes' must be one positive integer.")
            num_nodes = int(value)
        known = {"edge_index", "x", "y", "graph_index", "batch", "num_nodes", *MASKS}
        ignored = sorted(keys - known)
        if ignored:
            notes.append(f"{path.name}: ignored keys {', '.join(ignored)}.")
        graph = GraphArrays(
            x, edges, y, graph_index, masks.get("train_mask"), masks.get("val_mask"),
            masks.get("test_mask"), notes=notes, name=path.stem, num_nodes=num_nodes,
        )
    return check_graph(graph, where)


def _key(archive: Any, path: Path, key: str) -> np.ndarray:
    try:
        return np.asarray(archive[key])
    except ValueError as error:
        if "pickle" in str(error):
            raise SelfsupError(
                f"{path} key {key!r} holds Python objects, which are not loaded for safety. Save "
                "plain numeric arrays (labels as ints or np.array(labels, dtype=str))."
            ) from None
        raise SelfsupError(f"Could not read {path} key {key!r}: {error}") from None
    except Exception as error:  # noqa: BLE001 - a damaged archive member
        raise SelfsupError(f"Could not read {path} key {key!r}: {error}") from None


def _one_hot_labels(y: np.ndarray, path: Path) -> tuple[np.ndarray, list[str]]:
    """A one-hot ``[N, K]`` label matrix -> class indices (with a note); others unchanged."""
    matrix = y.ndim == 2 and y.shape[1] > 1 and y.dtype.kind in "biuf" and len(y) > 0
    if matrix and np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all():
        note = f"{path.name}: y is one-hot [N, {y.shape[1]}]; read as class indices."
        return np.argmax(y, axis=1), [note]
    return y, []


def _read_csr_npz(path: Path, archive: Any) -> GraphArrays:
    """Shchur et al.'s layout: CSR adjacency ``adj_*``, CSR/dense features, ``labels``."""
    keys = set(archive.files)
    adj = _csr(archive, path, "adj")
    n = adj.shape[0]
    if adj.shape[0] != adj.shape[1]:
        raise SelfsupError(
            f"{path} key 'adj_shape' is {list(adj.shape)}; the adjacency must be square [N, N]."
        )
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(adj.indptr))
    dst = adj.indices.astype(np.int64)
    if adj.data is not None:
        keep = adj.data != 0
        src, dst = src[keep], dst[keep]
    x = None
    if "attr_matrix" in keys:
        x = _key(archive, path, "attr_matrix")
    elif "attr_indptr" in keys:
        x = _csr(archive, path, "attr").dense()
    if x is not None and len(x) != n:
        raise SelfsupError(
            f"{path}: the features have {len(x)} rows but adj_shape says {n} nodes."
        )
    y = _key(archive, path, "labels") if "labels" in keys else None
    notes = []
    if y is not None:
        y, notes = _one_hot_labels(y, path)
    elif "labels_indptr" in keys:
        notes.append(f"{path.name}: sparse (multi-label) labels_* are not read; no labels.")
    graph = GraphArrays(x, np.stack([src, dst]), y, notes=notes, name=path.stem, num_nodes=n)
    return check_graph(graph, str(path), lambda k: f"adjacency entry {k} (CSR adj_*)")


@dataclass
class _Csr:
    shape: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray | None

    def dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=np.float32)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        values = self.data if self.data is not None else 1.0
        np.add.at(out, (rows, self.indices), values)
        return out


def _csr(archive: Any, path: Path, prefix: str) -> _Csr:
    """Validated CSR parts ``<prefix>_indptr/_indices/_data/_shape`` of an npz."""
    keys = set(archive.files)
    missing = [f"{prefix}_{p}" for p in ("indptr", "indices", "shape") if f"{prefix}_{p}" not in keys]
    if missing:
        raise SelfsupError(f"{path} lacks the CSR key(s) {', '.join(missing)}.")
    indptr = _key(archive, path, f"{prefix}_indptr")
    indices = _key(archive, path, f"{prefix}_indices")
    shape = _key(archive, path, f"{prefix}_shape")
    data = _key(archive, path, f"{prefix}_data") if f"{prefix}_data" in keys else None
    if shape.shape != (2,) or shape.dtype.kind not in "iu":
        raise SelfsupError(f"{path} key '{prefix}_shape' must be two integers [rows, columns].")
    rows, cols = (int(v) for v in shape)
    for key, array in ((f"{prefix}_indptr", indptr), (f"{prefix}_indices", indices)):
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise SelfsupError(f"{path} key {key!r} must be a vector of integers.")
    if len(indptr) != rows + 1 or indptr[0] != 0 or (np.diff(indptr) < 0).any() or (
        indptr[-1] != len(indices)
    ):
        raise SelfsupError(
            f"{path} key '{prefix}_indptr' is not a valid CSR row pointer for {rows} rows and "
            f"{len(indices)} entries (it needs {rows + 1} non-decreasing values from 0 to "
            f"{len(indices)})."
        )
    bad = (indices < 0) | (indices >= cols)
    if bad.any():
        k = int(np.argmax(bad))
        raise SelfsupError(
            f"{path} key '{prefix}_indices' entry {k} is {int(indices[k])}, outside 0..{cols - 1} "
            f"('{prefix}_shape' has {cols} columns)."
        )
    if data is not None and (data.shape != indices.shape or data.dtype.kind not in "biuf"):
        raise SelfsupError(
            f"{path} key '{prefix}_data' must be {len(indices)} numbers, one per entry of "
            f"'{prefix}_indices'."
        )
    return _Csr((rows, cols), indptr.astype(np.int64), indices.astype(np.int64), data)


# --------------------------------------------------------------------------- CSV


def read_edge_csv(
    edges: str | Path, nodes: str | Path | None = None, target: str | None = None
) -> GraphArrays:
    """Read an edge-list CSV and, optionally, a node CSV of features and labels.

    ``edges``: two columns of node ids (any text); a header row is optional and picks the
    columns ``source,target`` / ``src,dst`` / ``from,to`` (else the first two). ``nodes``: a
    header row, an ``id`` column (else the first), numeric feature columns, and the label column
    ``target`` (default ``label`` or ``y`` when present). Every edge must name a listed node;
    nodes without edges are kept (isolated). Text columns are ignored with a note.
    """
    edges = Path(edges)
    rows, lines = _csv_rows(edges)
    notes: list[str] = []
    first = [c.strip().lower() for c in rows[0]]
    columns = next(
        ((first.index(a), first.index(b)) for a, b in EDGE_COLUMN_PAIRS if a in first and b in first),
        None,
    )
    start = 0
    if columns is not None:
        start = 1
    else:
        columns = (0, 1)
        if len(rows[0]) >= 2 and not (_is_number(rows[0][0]) and _is_number(rows[0][1])):
            rest = rows[1:1001]
            if rest and all(len(r) >= 2 and _is_number(r[0]) and _is_number(r[1]) for r in rest):
                start = 1  # a header with unusual names above numeric ids
            else:
                notes.append(
                    f"{edges.name}: line {lines[0]} ({', '.join(rows[0][:2])}) is read as an "
                    "edge, not a header; name the columns source,target to mark a header."
                )
    width = max(columns) + 1
    pairs: list[tuple[str, str]] = []
    for row, line in zip(rows[start:], lines[start:]):
        if len(row) < width:
            raise SelfsupError(
                f"{edges}, line {line}: {len(row)} field(s); each edge needs a source and a "
                "target node id ('a,b')."
            )
        a, b = row[columns[0]].strip(), row[columns[1]].strip()
        if not a or not b:
            raise SelfsupError(f"{edges}, line {line}: an empty node id; give both ends of the edge.")
        pairs.append((a, b))
    if not pairs:
        raise SelfsupError(f"{edges} has no edges (only a header); a graph needs at least one edge.")
    if start and len(rows[0]) > 2:
        extra = [c.strip() for i, c in enumerate(rows[0]) if i not in columns]
        notes.append(f"{edges.name}: ignored column(s) {', '.join(extra)} (edge attributes).")
    edge_lines = np.asarray(lines[start:])
    ends = np.asarray(pairs, dtype=str).T  # [2, E]
    uniq, inverse = np.unique(ends, return_inverse=True)
    inverse = inverse.reshape(ends.shape)
    x = y = None
    class_names = None
    if nodes is None:
        ids, order = _sort_ids(uniq)  # node i has id ids[i]; order maps uniq -> node
        edge_index = order[inverse]
        if not np.array_equal(ids, np.arange(len(ids)).astype(str)):
            notes.append(
                f"{edges.name}: node ids remapped to 0..{len(ids) - 1} (node_ids keeps the "
                "originals)."
            )
    else:
        nodes = Path(nodes)
        ids, x, y, node_notes = _read_node_csv(nodes, target)
        notes += node_notes
        position = {v: i for i, v in enumerate(ids.tolist())}
        order = np.asarray([position.get(v, -1) for v in uniq.tolist()], dtype=np.int64)
        edge_index = order[inverse]
        unknown = (edge_index < 0).any(axis=0)
        if unknown.any():
            k = int(np.argmax(unknown))
            missing = str(ends[0, k] if edge_index[0, k] < 0 else ends[1, k])
            raise SelfsupError(
                f"{edges}, line {int(edge_lines[k])}: node id {missing!r} is not in {nodes} "
                "(its id column); every edge must join nodes listed there."
            )
    graph = GraphArrays(
        x, edge_index, y, class_names=class_names, notes=notes, name=edges.stem,
        num_nodes=len(ids), node_ids=ids,
    )
    return check_graph(graph, str(edges), lambda k: f"line {int(edge_lines[k])}")


def _sort_ids(uniq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Node ids in node order (integers as numbers) and the map from ``uniq`` to node index."""
    try:
        numbers = uniq.astype(np.int64)
    except (ValueError, OverflowError):
        return uniq, np.arange(len(uniq), dtype=np.int64)
    if len(np.unique(numbers)) != len(uniq):  # "1" and "01": keep them apart, as text
        return uniq, np.arange(len(uniq), dtype=np.int64)
    rank = np.argsort(numbers, kind="stable")
    order = np.empty(len(uniq), dtype=np.int64)
    order[rank] = np.arange(len(uniq))
    return uniq[rank], order


def _read_node_csv(
    path: Path, target: str | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, list[str]]:
    """Node CSV -> ids ``[N]`` (str), float32 features or None, raw labels or None, notes."""
    rows, lines = _csv_rows(path)
    header = [c.strip() for c in rows[0]]
    if all(_is_number(c) for c in header):
        raise SelfsupError(
            f"{path} has no header row (its first line is all numbers). Add one, e.g. "
            "'id,f0,f1,label'."
        )
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise SelfsupError(f"{path} has duplicate column names: {', '.join(duplicated)}.")
    body, body_lines = rows[1:], lines[1:]
    if not body:
        raise SelfsupError(f"{path} is empty apart from its header: no nodes to read.")
    for row, line in zip(body, body_lines):
        if len(row) != len(header):
            raise SelfsupError(
                f"{path} is ragged: line {line} has {len(row)} fields but the header has "
                f"{len(header)} ({', '.join(header)}). Leave a cell empty (a,,b) if need be."
            )
    cells = np.char.strip(np.asarray(body, dtype=str))  # [N, columns]
    id_col = header.index("id") if "id" in header else 0
    ids = cells[:, id_col]
    if (ids == "").any():
        line = body_lines[int(np.argmax(ids == ""))]
        raise SelfsupError(f"{path}, line {line}: the node id ({header[id_col]!r}) is empty.")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = str(uniq[int(np.argmax(counts > 1))])
        where = [body_lines[i] for i in np.flatnonzero(ids == dup)[:2]]
        raise SelfsupError(
            f"{path}: node id {dup!r} appears twice (lines {where[0]} and {where[1]}); each node "
            "needs one row."
        )
    label_col = _label_column(header, target, path)
    notes: list[str] = []
    features, ignored = [], []
    for j, name in enumerate(header):
        if j in (id_col, label_col):
            continue
        column = cells[:, j]
        try:
            features.append(column.astype(np.float64))
            continue
        except ValueError:
            pass
        numeric = np.asarray([_is_number(c) for c in column])
        if not numeric.any():
            ignored.append(name)
            continue
        i = int(np.argmin(numeric))
        raise SelfsupError(
            f"{path}, line {body_lines[i]}, column {name!r}: {str(column[i])!r} is not a number; "
            "feature columns need a number in every row."
        )
    if ignored:
        notes.append(f"{path.name}: ignored text column(s) {', '.join(ignored)}.")
    x = None
    if features:
        x = np.stack(features, axis=1)
        finite = np.isfinite(x)
        if not finite.all():
            i, j = (int(v[0]) for v in np.nonzero(~finite))
            name = [h for k, h in enumerate(header) if k not in (id_col, label_col)][j]
            raise SelfsupError(
                f"{path}, line {body_lines[i]}, column {name!r}: {str(cells[i, header.index(name)])!r}"
                " is not a finite number; fill or drop it."
            )
        x = x.astype(np.float32)
    y = None
    if label_col is not None:
        y = cells[:, label_col]
        if (y == "").any():
            line = body_lines[int(np.argmax(y == ""))]
            raise SelfsupError(
                f"{path}, line {line}: the label ({header[label_col]!r}) is empty; give every "
                "node a label or drop the column."
            )
    return ids, x, y, notes


def _label_column(header: list[str], target: str | None, path: Path) -> int | None:
    if target is not None:
        if target not in header:
            raise SelfsupError(
                f"{path} has no column {target!r} (option target); its columns: "
                f"{', '.join(header)}."
            )
        return header.index(target)
    return next((header.index(c) for c in LABEL_COLUMNS if c in header), None)


def _csv_rows(path: Path) -> tuple[list[list[str]], list[int]]:
    """Non-blank rows of a CSV and their line numbers; an empty file is an error."""
    if not path.is_file():
        raise SelfsupError(f"{path} does not exist.")
    rows, lines = [], []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(reader.line_num)
    except UnicodeDecodeError as error:
        raise SelfsupError(f"{path} is not UTF-8 text ({error}); save it as UTF-8 CSV.") from None
    except csv.Error as error:
        raise SelfsupError(f"Could not parse {path} as CSV: {error}") from None
    if not rows:
        raise SelfsupError(f"{path} is empty.")
    return rows, lines


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- TU folders


def read_tu(folder: str | Path) -> GraphArrays:
    """Read a TU data set folder (MUTAG, PROTEINS, ...) as many graphs with graph labels.

    ``DS`` is the prefix of the ``DS_A.txt`` file. Node ids and graph ids are 1-based in the
    files and 0-based in the result. Features: ``DS_node_attributes.txt`` then the one-hot
    ``DS_node_labels.txt``; with neither, ``x`` is None.
    """
    folder = Path(folder)
    found = sorted(folder.glob("*_A.txt"))
    if not found:
        raise SelfsupError(f"{folder} holds no <DS>_A.txt file, so it is not a TU data set folder.")
    if len(found) > 1:
        raise SelfsupError(
            f"{folder} holds several TU edge files ({', '.join(p.name for p in found)}); keep one "
            "data set per folder."
        )
    ds = found[0].name[: -len("_A.txt")]

    def part(name: str) -> Path:
        return folder / f"{ds}_{name}.txt"

    a_file, indicator_file = part("A"), part("graph_indicator")
    if not indicator_file.is_file():
        raise SelfsupError(
            f"{folder} has {a_file.name} but no {indicator_file.name} (the graph of each node)."
        )
    notes: list[str] = []
    indicator = _read_table(indicator_file, np.int64, 1)[:, 0]
    n = len(indicator)
    gi_lines = _LineMap(indicator_file)
    bad = indicator < 1
    if bad.any():
        i = int(np.argmax(bad))
        raise SelfsupError(
            f"{indicator_file}, line {gi_lines(i)}: graph id {int(indicator[i])}; graph ids "
            "start at 1."
        )
    step = np.diff(indicator)
    if indicator[0] != 1 or (step < 0).any() or (step > 1).any():
        i = 0 if indicator[0] != 1 else int(np.argmax((step < 0) | (step > 1))) + 1
        previous = f" after {int(indicator[i - 1])}" if i else ""
        raise SelfsupError(
            f"{indicator_file}, line {gi_lines(i)}: graph id {int(indicator[i])}{previous}; graph "
            "ids must be contiguous (1..G, no gaps) with the nodes of each graph listed together "
            "in graph order."
        )
    graphs = int(indicator[-1])
    edges = _read_table(a_file, np.int64, 2)
    a_lines = _LineMap(a_file)
    bad = ((edges < 1) | (edges > n)).any(axis=1)
    if bad.any():
        k = int(np.argmax(bad))
        raise SelfsupError(
            f"{a_file}, line {a_lines(k)}: edge {int(edges[k, 0])}, {int(edges[k, 1])} names a "
            f"node outside 1..{n}; {indicator_file.name} lists {n} nodes."
        )
    features = []
    attributes_file, labels_file = part("node_attributes"), part("node_labels")
    if attributes_file.is_file():
        attributes = _read_table(attributes_file, np.float64, None)
        _same_count(attributes_file, len(attributes), indicator_file, n, "node")
        finite = np.isfinite(attributes)
        if not finite.all():
            i = int(np.argmax(~finite.all(axis=1)))
            raise SelfsupError(
                f"{attributes_file}, line {_LineMap(attributes_file)(i)}: NaN or infinite node "
                "attribute; fill or drop it."
            )
        features.append(attributes)
        notes.append(f"{ds}: {attributes.shape[1]} node attribute(s) from {attributes_file.name}.")
    if labels_file.is_file():
        node_labels = _read_table(labels_file, np.int64, None)
        _same_count(labels_file, len(node_labels), indicator_file, n, "node")
        sizes = []
        for column in node_labels.T:
            values, codes = np.unique(column, return_inverse=True)
            features.append(np.eye(len(values), dtype=np.float64)[codes.reshape(-1)])
            sizes.append(len(values))
        notes.append(
            f"{ds}: node labels of {labels_file.name} one-hot encoded as features "
            f"({' + '.join(map(str, sizes))} column(s))."
        )
    x = np.concatenate(features, axis=1).astype(np.float32) if features else None
    y = None
    labels_path = part("graph_labels")
    if labels_path.is_file():
        y = _read_table(labels_path, np.float64, 1)[:, 0]
        _same_count(labels_path, len(y), indicator_file, graphs, "graph")
    else:
        notes.append(f"{ds}: no {labels_path.name}; the graphs are unlabeled.")
    graph = GraphArrays(
        x, (edges - 1).T, y, indicator - 1, notes=notes, name=ds, num_nodes=n
    )
    return check_graph(graph, str(a_file), lambda k: f"{a_file.name} line {a_lines(k)}")


def _same_count(path: Path, count: int, reference: Path, expected: int, unit: str) -> None:
    if count != expected:
        what = "nodes" if unit == "node" else "graphs (distinct graph ids)"
        raise SelfsupError(
            f"{path} has {count} lines but {reference} gives {expected} {what}; {path.name} "
            f"needs one line per {unit}."
        )


def _read_table(path: Path, dtype: type, width: int | None) -> np.ndarray:
    """A comma-separated number table ``[rows, width]``; names the first bad line on error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": reported below
            table = np.loadtxt(path, delimiter=",", dtype=dtype, ndmin=2, comments=None)
    except (ValueError, OverflowError) as error:
        _raise_bad_line(path, dtype, width)
        raise SelfsupError(f"Could not read {path}: {error}") from None
    except UnicodeDecodeError as error:
        raise SelfsupError(f"{path} is not UTF-8 text ({error}).") from None
    if table.size == 0:
        raise SelfsupError(f"{path} is empty.")
    if width is not None and table.shape[1] != width:
        _raise_bad_line(path, dtype, width)
    return table


def _raise_bad_line(path: Path, dtype: type, width: int | None) -> None:
    """Scan ``path`` line by line and raise for the first malformed one (if any)."""
    kind = "integer" if dtype is np.int64 else "number"
    expected = None
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            tokens = [t.strip() for t in text.strip().split(",")]
            for token in tokens:
                try:
                    int(token) if dtype is np.int64 else float(token)
                except ValueError:
                    article = "an" if kind == "integer" else "a"
                    raise SelfsupError(
                        f"{path}, line {number}: {token!r} is not {article} {kind}."
                    ) from None
            need = width if width is not None else expected
            if need is not None and len(tokens) != need:
                shape = "'i, j' (two node ids)" if need == 2 else f"{need} value(s)"
                raise SelfsupError(
                    f"{path}, line {number}: {len(tokens)} value(s); each line needs {shape}."
                )
            expected = len(tokens) if expected is None else expected


class _LineMap:
    """Data row ``k`` (blank lines skipped) -> its 1-based line number, read only when asked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lines: np.ndarray | None = None

    def __call__(self, row: int) -> int:
        if self._lines is None:
            with self.path.open(encoding="utf-8", errors="replace") as handle:
                self._lines = np.asarray(
                    [i for i, text in enumerate(handle, start=1) if text.strip()], dtype=np.int64
                )
        return int(self._lines[row])


# --------------------------------------------------------------------------- GraphML / GML


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

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from selfsup.data.base import np_load
from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.arrays import (
    FORMATS,
    MASKS,
    GraphArrays,
    check_graph,
    edge_array,
)
from selfsup.modalities.graph.data.csv_graph import read_edge_csv
from selfsup.modalities.graph.data.networkx_files import read_networkx
from selfsup.modalities.graph.data.tu import read_tu


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
        edges = edge_array(raw, f"{where} key 'edge_index'", "edge_index")
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



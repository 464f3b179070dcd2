"""TU data set folders (``DS_A.txt``, ``DS_graph_indicator.txt`` …, what a user who downloaded
MUTAG or PROTEINS has) -> :class:`GraphArrays`."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.arrays import (
    GraphArrays,
    check_graph,
)


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



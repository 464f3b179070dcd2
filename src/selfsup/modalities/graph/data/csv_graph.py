"""Edge-list CSV (+ an optional node CSV with features and labels) -> :class:`GraphArrays`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.arrays import (
    EDGE_COLUMN_PAIRS,
    LABEL_COLUMNS,
    GraphArrays,
    check_graph,
)


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



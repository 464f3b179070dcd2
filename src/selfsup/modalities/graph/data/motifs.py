"""Seeded graph-classification data in plain NumPy: :func:`synthetic_motifs`, random graphs of
several families, each with one planted motif whose type is its label (the idea of GNNExplainer's
BA-shapes, Ying et al. 2019). Arrays in PyG's layout, as :mod:`generators` gives them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.generators import check_parameter


def _cycle(n: int) -> list[tuple[int, int]]:
    return [(i, (i + 1) % n) for i in range(n)]


# name -> (nodes, edges); all four have 6 or 7 edges, so the edge count says little.
MOTIFS: dict[str, tuple[int, list[tuple[int, int]]]] = {
    "house": (5, _cycle(4) + [(0, 4), (1, 4)]),  # a square with a triangle roof
    "cycle": (6, _cycle(6)),
    "clique": (4, [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]),
    "grid": (6, [(0, 1), (1, 2), (3, 4), (4, 5), (0, 3), (1, 4), (2, 5)]),  # 2 x 3
}

BASE_FAMILIES = ("erdos_renyi", "barabasi_albert", "tree", "ring")


def synthetic_motifs(
    num_graphs: int = 1200,
    min_nodes: int = 12,
    max_nodes: int = 30,
    num_features: int = 8,
    motifs: Sequence[str] = ("house", "cycle", "clique", "grid"),
    seed: int = 0,
) -> dict[str, np.ndarray | list[str]]:
    """Graph classification by structure: random graphs, each with one planted motif whose type
    is its label, after the planted motifs of GNNExplainer's BA-shapes (Ying et al. 2019).

    Each graph has ``n`` nodes, uniform in ``[min_nodes, max_nodes]`` whatever its label. Its base
    (``n`` minus the motif's nodes) is drawn, with equal probability and independently of the
    label, from four families: Erdős–Rényi (mean degree 3, its components joined), Barabási–
    Albert (2 edges per new node), a random recursive tree, or a ring with 2 random chords. The
    motif is joined to the base by 2 edges from 2 of its nodes to random base nodes, and the
    graph's node ids are shuffled. Motifs: ``house`` (a square with a triangle roof, 5 nodes),
    ``cycle`` (6 nodes), ``clique`` (4 nodes), ``grid`` (2 x 3, 6 nodes); each has 6 or 7 edges.

    Features hold no label: ``x`` is each node's degree one-hot (degree ``1 … F-1``, the last
    column ``F`` or more), as PyG's ``OneHotDegree`` gives graph sets without features. Only the
    structure tells the motif apart.

    Args:
        num_graphs: graphs ``G``; classes are balanced (sizes differ by at most one).
        min_nodes: fewest nodes of a graph, motif included; at least 9.
        max_nodes: most nodes of a graph; at least ``min_nodes``.
        num_features: feature width ``F``, the degree cap; at least 2.
        motifs: the classes, in label order; names from ``house``, ``cycle``, ``clique``, ``grid``.
        seed: seeds everything.

    Returns:
        ``x [N, F]`` float32 (``N`` nodes over all graphs), ``edge_index [2, E]`` int64 (global
        node ids, both directions), ``graph_index [N]`` int64 (the graph of each node: sorted,
        each graph's nodes contiguous), ``y [G]`` int64 and ``class_names`` (the motif names).
    """
    motifs = list(motifs)
    unknown = [m for m in motifs if m not in MOTIFS]
    if not motifs or unknown or len(set(motifs)) != len(motifs):
        raise SelfsupError(
            f"motifs must be distinct names from {', '.join(MOTIFS)}; got {motifs!r}.")
    check_parameter("num_graphs", num_graphs, len(motifs), f"at least one per motif ({len(motifs)})")
    check_parameter("min_nodes", min_nodes, 9, "at least 9 (a 6-node motif on a base of 3)")
    check_parameter("max_nodes", max_nodes, min_nodes, f"at least min_nodes = {min_nodes}")
    check_parameter("num_features", num_features, 2)

    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(num_graphs, dtype=np.int64) % len(motifs))
    sizes = rng.integers(min_nodes, max_nodes + 1, size=num_graphs)
    families = rng.integers(0, len(BASE_FAMILIES), size=num_graphs)
    builders = (_erdos_renyi, _barabasi_albert, _random_tree, _ring)
    parts, offset = [], 0
    for label, size, family in zip(y, sizes, families):
        motif_nodes, motif_edges = MOTIFS[motifs[label]]
        base = size - motif_nodes
        edges = builders[family](base, rng)
        planted = np.asarray(motif_edges, dtype=np.int64).reshape(-1, 2) + base
        ends = base + rng.choice(motif_nodes, size=2, replace=False)
        attach = np.stack([ends, rng.integers(0, base, size=2)], axis=1)
        shuffle = rng.permutation(size)
        parts.append(shuffle[np.concatenate([edges, planted, attach])] + offset)
        offset += size
    edge_index = _undirected(np.concatenate(parts), offset)
    degree = np.bincount(edge_index[0], minlength=offset)
    x = np.zeros((offset, num_features), dtype=np.float32)
    x[np.arange(offset), np.clip(degree, 1, num_features) - 1] = 1.0
    graph_index = np.repeat(np.arange(num_graphs, dtype=np.int64), sizes)
    return {"x": x, "edge_index": edge_index, "graph_index": graph_index, "y": y,
            "class_names": motifs}


def _undirected(pairs: np.ndarray, n: int) -> np.ndarray:
    """``[2, E]``: both directions of each pair ``[P, 2]``, without self loops or duplicates."""
    a, b = pairs[:, 0], pairs[:, 1]
    a, b = a[a != b], b[a != b]
    directed = np.unique(np.concatenate([a * n + b, b * n + a]))
    return np.stack([directed // n, directed % n])


def _erdos_renyi(n: int, rng: np.random.Generator) -> np.ndarray:
    first, second = np.triu_indices(n, 1)
    keep = rng.random(len(first)) < min(1.0, 3.0 / (n - 1))
    edges = np.stack([first[keep], second[keep]], axis=1)
    # Join the components: label propagation finds them, then each links to node 0's.
    component = np.arange(n)
    while True:
        low = component.copy()
        np.minimum.at(low, edges[:, 0], component[edges[:, 1]])
        np.minimum.at(low, edges[:, 1], component[edges[:, 0]])
        if (low == component).all():
            break
        component = low
    main = np.flatnonzero(component == component[0])
    links = [(rng.choice(np.flatnonzero(component == c)), rng.choice(main))
             for c in np.unique(component) if c != component[0]]
    return np.concatenate([edges, np.asarray(links, dtype=np.int64).reshape(-1, 2)])


def _barabasi_albert(n: int, rng: np.random.Generator, per_node: int = 2) -> np.ndarray:
    edges, ends = [(0, 1)], [0, 1]  # `ends` lists each node once per edge: degree-proportional
    for new in range(2, n):
        targets: set[int] = set()
        while len(targets) < min(per_node, new):
            targets.add(ends[int(rng.integers(len(ends)))])
        for target in targets:
            edges.append((new, target))
            ends += [new, target]
    return np.asarray(edges, dtype=np.int64)


def _random_tree(n: int, rng: np.random.Generator) -> np.ndarray:
    child = np.arange(1, n)
    return np.stack([child, (rng.random(n - 1) * child).astype(np.int64)], axis=1)


def _ring(n: int, rng: np.random.Generator, chords: int = 2) -> np.ndarray:
    ring = np.asarray(_cycle(n), dtype=np.int64)
    # Loops and repeats among the chords are dropped with the rest by _undirected.
    return np.concatenate([ring, rng.integers(0, n, size=(chords, 2))])

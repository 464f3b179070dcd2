"""Uniform neighbour sampling (GraphSAGE, Hamilton et al. 2017; PyG's ``NeighborLoader``) for a
node-level graph too big to pass whole through the encoder at every step.

PyG's own ``NeighborLoader`` needs ``pyg-lib`` or ``torch-sparse`` (compiled extensions); this
module is plain torch, so it works with the pure-Python PyG install.

- :func:`build_csr` sorts the edges by target once: ``rowptr [n + 1]`` and ``col [E]`` (int64),
  the neighbours whose messages reach each node (``edge_index[0]`` of the edges into it).
- :func:`sample_subgraph` samples, hop by hop, up to ``fanouts[h]`` of each frontier node's
  neighbours **uniformly without replacement** (all of them when it has no more), with a
  vectorised Floyd's algorithm: ``fanout`` steps over every frontier row at once, each step a
  uniform draw and a membership test against the ``fanout`` positions chosen so far, so a
  row costs ``O(fanout²)`` whatever its degree (a hub with 10⁵ neighbours costs as much as a node
  with 11). The frontier of hop ``h + 1`` is the nodes hop ``h`` discovered (nodes already in the
  subgraph are not expanded again), as in PyG.
- :class:`SampledNodeCollate` is the node-level collate that does this per batch: a batch's
  ``"x"`` is ``Graphs(x[node_ids], edges, nodes=seed_positions)``, never the whole graph.

Randomness: ``sample_subgraph`` draws from ``generator`` (None: torch's global generator). The
collate uses the global generator, which the run seeds (``seed_everything(..., workers=True)``)
in the main process and Lightning's worker init seeds in each loader worker, so a run is
repeatable for a given seed and ``train.num_workers``.

Note on GCN: a sampled subgraph's nodes on the outermost hop have only the in-edges sampled for
them, so GCN's symmetric normalisation sees their subgraph degrees, not their true ones (the same
as with PyG's ``NeighborLoader``). Mean aggregation (SAGE) at the seeds is exact when the fanouts
cover every neighbour; GCN is exact when one more hop is sampled than it has layers.
"""

from __future__ import annotations

from typing import Any

import torch

from selfsup.modalities.graph.data.graphs import Graphs


def build_csr(edge_index: torch.Tensor, num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rowptr [n + 1], col [E])``, int64: ``col[rowptr[v]:rowptr[v + 1]]`` are the sources of
    the edges into ``v`` (messages flow ``edge_index[0] -> edge_index[1]``)."""
    edge_index = torch.as_tensor(edge_index)
    target = edge_index[1].to(torch.int64)
    order = torch.sort(target, stable=True).indices
    col = edge_index[0].to(torch.int64)[order]
    del order
    counts = torch.bincount(target, minlength=num_nodes)
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.int64)
    torch.cumsum(counts, 0, out=rowptr[1:])
    return rowptr, col


def _ranges(starts: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """``cat([arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised."""
    total = int(counts.sum())
    if total == 0:
        return torch.zeros(0, dtype=torch.int64)
    before = torch.cumsum(counts, 0) - counts
    return torch.arange(total, dtype=torch.int64) + torch.repeat_interleave(starts - before, counts, output_size=total)


def _floyd(degree: torch.Tensor, k: int, generator: torch.Generator | None) -> torch.Tensor:
    """For each row a uniform random ``k``-subset of ``range(degree)`` (``degree > k``), ``[R, k]``:
    Floyd's algorithm, ``for j in degree-k .. degree-1: t = randint(0, j); add t if new else j``."""
    rows = degree.shape[0]
    chosen = torch.empty(rows, k, dtype=torch.int64)
    draws = torch.rand(rows, k, generator=generator, dtype=torch.float64)
    for i in range(k):
        j = degree - k + i
        t = torch.minimum((draws[:, i] * (j + 1)).to(torch.int64), j)  # uniform in [0, j]
        seen = (chosen[:, :i] == t.unsqueeze(1)).any(1) if i else torch.zeros(rows, dtype=torch.bool)
        chosen[:, i] = torch.where(seen, j, t)
    return chosen


def sample_neighbors(
    rowptr: torch.Tensor, col: torch.Tensor, targets: torch.Tensor, fanout: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``fanout`` neighbours of each target, uniformly without replacement (all of them
    where the degree is at most ``fanout``; ``fanout < 0``: all). Returns ``(neighbour, target)``,
    global ids, one entry per sampled edge."""
    start = rowptr[targets]
    degree = rowptr[targets + 1] - start
    full = degree <= fanout if fanout >= 0 else torch.ones_like(degree, dtype=torch.bool)
    nbr_parts, tgt_parts = [], []
    if bool(full.any()):
        s, d = start[full], degree[full]
        nbr_parts.append(col[_ranges(s, d)])
        tgt_parts.append(torch.repeat_interleave(targets[full], d))
    many = ~full
    if bool(many.any()):
        picks = _floyd(degree[many], fanout, generator) + start[many].unsqueeze(1)
        nbr_parts.append(col[picks.reshape(-1)])
        tgt_parts.append(targets[many].repeat_interleave(fanout))
    if not nbr_parts:
        empty = torch.zeros(0, dtype=torch.int64)
        return empty, empty
    return torch.cat(nbr_parts), torch.cat(tgt_parts)


def _append_new(nodes: torch.Tensor, candidates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``nodes`` followed by the distinct ``candidates`` not already in it (in first-seen order);
    returns ``(all nodes, the new ones)``."""
    if candidates.numel() == 0:
        return nodes, candidates
    both = torch.cat([nodes, candidates])
    unique, inverse = torch.unique(both, return_inverse=True)
    first = torch.full((unique.shape[0],), both.shape[0], dtype=torch.int64)
    first.scatter_reduce_(0, inverse, torch.arange(both.shape[0]), reduce="amin")
    new_first = torch.sort(first[first >= nodes.shape[0]]).values
    new = both[new_first]
    return torch.cat([nodes, new]), new


def sample_subgraph(
    rowptr: torch.Tensor,
    col: torch.Tensor,
    seeds: torch.Tensor,
    fanouts: list[int],
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The sampled neighbourhood of ``seeds``: ``(node_ids [n_sub], edge_index [2, E_sub],
    seed_positions [B])``.

    ``node_ids`` are global ids, the seeds first (distinct seeds sit at ``0 .. B-1``), then each
    hop's new nodes; ``edge_index`` are the sampled edges in local ids, ``[0]`` the neighbour
    (message source) and ``[1]`` the node it was sampled for; ``seed_positions`` the local id of
    each seed. Hop ``h`` samples up to ``fanouts[h]`` neighbours (``-1``: all) of each node that
    hop ``h - 1`` discovered (hop 0: the seeds), uniformly without replacement.
    """
    seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
    nodes, frontier = _append_new(seeds[:0], seeds)
    sources, targets = [], []
    for fanout in fanouts:
        if frontier.numel() == 0:
            break
        nbr, tgt = sample_neighbors(rowptr, col, frontier, int(fanout), generator)
        sources.append(nbr)
        targets.append(tgt)
        nodes, frontier = _append_new(nodes, nbr)
    # relabel global -> local through the sorted node ids
    sorted_ids, where = torch.sort(nodes)

    def local(ids: torch.Tensor) -> torch.Tensor:
        return where[torch.searchsorted(sorted_ids, ids)]

    if sources:
        edge_index = torch.stack([local(torch.cat(sources)), local(torch.cat(targets))])
    else:
        edge_index = torch.zeros(2, 0, dtype=torch.int64)
    return nodes, edge_index, local(seeds)


def check_fanouts(neighbors: Any) -> list[int]:
    """``data.options.neighbors`` as a list of ints (``-1``: every neighbour), or a ValueError."""
    values = [neighbors] if isinstance(neighbors, int) else neighbors
    if (not isinstance(values, (list, tuple)) or not values
            or not all(isinstance(v, int) and not isinstance(v, bool) and (v > 0 or v == -1) for v in values)):
        raise ValueError("neighbors must be a non-empty list of positive ints (or -1 for every neighbour), "
                         f"one per hop, e.g. [10, 10]; got {neighbors!r}")
    return [int(v) for v in values]


class SampledNodeCollate:
    """Node batches on a sampled neighbourhood: the CSR is built once; each batch samples
    ``fanouts`` hops around its nodes and carries only that subgraph (see the module docstring)."""

    def __init__(self, x: torch.Tensor, edge_index: torch.Tensor, fanouts: list[int]) -> None:
        self.x = x
        self.fanouts = check_fanouts(fanouts)
        self.rowptr, self.col = build_csr(edge_index, int(x.shape[0]))

    def __call__(self, items: Any) -> dict[str, Any]:
        from selfsup.modalities.graph.data.source import merge_items

        items = merge_items(items)
        node_ids, edge_index, seed_positions = sample_subgraph(self.rowptr, self.col, items["ids"], self.fanouts)
        batch = {"x": Graphs(self.x[node_ids], edge_index, nodes=seed_positions), "index": items["index"]}
        if "y" in items:
            batch["y"] = items["y"]
        return batch

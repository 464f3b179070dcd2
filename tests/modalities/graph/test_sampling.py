"""Neighbour sampling for node-level mini-batches (``data.options.neighbors``): the CSR, the
sampled edges and fanouts, exactness against full-graph message passing, and a run through the API."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

import selfsup
from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.modalities.graph.data.sampling import SampledNodeCollate, build_csr, sample_subgraph
from selfsup.modalities.graph.data.source import node_source
from selfsup.modalities.graph.encoders.gnn import GNN


def random_graph(n: int = 60, m: int = 150, seed: int = 0, hub: bool = True) -> torch.Tensor:
    """An undirected random graph (both directions), no self loops or duplicates, with a hub."""
    rng = np.random.default_rng(seed)
    pairs = {tuple(sorted(p)) for p in rng.integers(0, n, (m, 2)) if p[0] != p[1]}
    if hub:
        pairs |= {(0, v) for v in range(1, n, 2)}  # node 0: degree >= n / 2
    edges = np.array(sorted(pairs)).T
    return torch.as_tensor(np.concatenate([edges, edges[::-1]], axis=1), dtype=torch.long)


def test_csr_lists_the_sources_of_each_nodes_in_edges():
    edge_index = torch.tensor([[1, 2, 0, 3, 0, 2], [0, 0, 1, 1, 2, 3]])
    rowptr, col = build_csr(edge_index[:, torch.randperm(6)], num_nodes=5)
    assert rowptr.dtype == col.dtype == torch.int64
    assert rowptr.tolist() == [0, 2, 4, 5, 6, 6]  # node 4 has no edges
    rows = [sorted(col[rowptr[v]:rowptr[v + 1]].tolist()) for v in range(5)]
    assert rows == [[1, 2], [0, 3], [0], [2], []]


def test_sampled_edges_exist_seeds_come_first_and_fanouts_hold():
    edge_index = random_graph()
    n = int(edge_index.max()) + 1
    rowptr, col = build_csr(edge_index, n)
    degree = (rowptr[1:] - rowptr[:-1]).tolist()
    existing = set(map(tuple, edge_index.t().tolist()))
    seeds = torch.tensor([5, 0, 17, 33])
    fanouts = [3, 2]
    node_ids, local, positions = sample_subgraph(rowptr, col, seeds, fanouts, torch.Generator().manual_seed(0))
    assert positions.tolist() == [0, 1, 2, 3] and node_ids[:4].tolist() == seeds.tolist()
    assert len(set(node_ids.tolist())) == len(node_ids)  # each node once
    src, dst = node_ids[local[0]].tolist(), node_ids[local[1]].tolist()
    assert all((s, d) in existing for s, d in zip(src, dst))
    edges = list(zip(src, dst))
    assert len(set(edges)) == len(edges)  # without replacement
    per_target = Counter(dst)
    for s in seeds.tolist():  # hop 1: every seed gets min(degree, fanout)
        assert per_target[s] == min(degree[s], fanouts[0])
    hop1 = node_ids[4:4 + len(set(src[:sum(per_target[s] for s in seeds.tolist())]) - set(seeds.tolist()))]
    for v in hop1.tolist():  # hop 2: every node hop 1 discovered
        assert per_target[v] == min(degree[v], fanouts[1])
    assert set(per_target) == set(seeds.tolist()) | set(hop1.tolist())


def test_sampling_is_uniform_without_replacement():
    # one node with 8 neighbours, fanout 3: each neighbour is picked with probability 3/8
    edge_index = torch.stack([torch.arange(1, 9), torch.zeros(8, dtype=torch.long)])
    rowptr, col = build_csr(edge_index, 9)
    generator = torch.Generator().manual_seed(1)
    counts = Counter()
    trials = 4000
    for _ in range(trials):
        node_ids, local, _ = sample_subgraph(rowptr, col, torch.tensor([0]), [3], generator)
        picked = node_ids[local[0]].tolist()
        assert len(set(picked)) == 3
        counts.update(picked)
    freq = np.array([counts[v] / trials for v in range(1, 9)])
    assert np.abs(freq - 3 / 8).max() < 0.04


def test_sampling_is_seeded():
    edge_index = random_graph()
    rowptr, col = build_csr(edge_index, int(edge_index.max()) + 1)
    seeds = torch.tensor([1, 2, 3])
    a = sample_subgraph(rowptr, col, seeds, [2, 2], torch.Generator().manual_seed(7))
    b = sample_subgraph(rowptr, col, seeds, [2, 2], torch.Generator().manual_seed(7))
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("conv, hops", [("sage", 2), ("gcn", 3)])
def test_full_fanout_sampling_matches_full_graph_message_passing(conv, hops):
    """Fanouts at least the maximum degree: the seeds' embeddings equal the full graph's. Mean
    aggregation (SAGE) needs as many hops as layers; GCN's normalisation also needs the true
    degree of every node the last layer reads, which one more hop provides (with exactly 2 hops,
    the outermost nodes' subgraph degrees are smaller than their true ones)."""
    torch.manual_seed(0)
    edge_index = random_graph(n=300, m=450, hub=False)
    n = int(edge_index.max()) + 1
    x = torch.randn(n, 8)
    gnn = GNN(GraphSpec(8), conv=conv, hidden_dim=16, output_dim=16, layers=2).eval()
    seeds = torch.tensor([3, 7, 41])
    full = gnn(Graphs(x, edge_index, nodes=seeds))
    rowptr, col = build_csr(edge_index, n)
    max_degree = int((rowptr[1:] - rowptr[:-1]).max())
    for fanouts in ([max_degree] * hops, [-1] * hops):
        node_ids, local, positions = sample_subgraph(rowptr, col, seeds, fanouts)
        assert len(node_ids) < n and local.shape[1] < edge_index.shape[1]  # a real subgraph
        sampled = gnn(Graphs(x[node_ids], local, nodes=positions))
        torch.testing.assert_close(sampled, full, atol=1e-5, rtol=1e-5)


def test_collate_carries_only_the_sampled_neighbourhood():
    edge_index = random_graph(n=200, m=400)
    x = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    source = node_source("toy", x, edge_index.numpy(), neighbors=[2, 2])
    assert isinstance(source.collate, SampledNodeCollate)
    items = source.train.__getitems__(list(range(10)))
    torch.manual_seed(3)  # the collate draws from torch's global generator
    g = source.collate(items)["x"]
    torch.manual_seed(3)
    node_ids, local, positions = sample_subgraph(*build_csr(edge_index, 200), items["ids"], [2, 2])
    assert g.nodes.tolist() == positions.tolist() == list(range(10)) and g.num_nodes == len(node_ids) < 200
    assert torch.equal(g.edge_index, local)
    torch.testing.assert_close(g.x, torch.as_tensor(x)[node_ids])


def test_bad_neighbors_is_one_clear_error():
    with pytest.raises(SelfsupError, match="neighbors"):
        node_source("toy", np.eye(3, dtype=np.float32), np.array([[0, 1], [1, 0]]), neighbors=[0])


def test_grace_pretrains_on_sampled_neighbourhoods(tmp_path, monkeypatch):
    from selfsup.modalities.graph.data import sampling

    sizes = []

    def counted(*args, **kwargs):
        node_ids, edge_index, positions = sample_subgraph(*args, **kwargs)
        sizes.append(len(node_ids))
        return node_ids, edge_index, positions

    monkeypatch.setattr(sampling, "sample_subgraph", counted)
    out = tmp_path / "run"
    selfsup.pretrain(method="grace", data="sbm_citation", epochs=1, batch_size=256, out=str(out), progress=False,
                     encoder="gcn",
                     overrides=["data.options.neighbors=[5, 5]", "data.options.num_features=16",
                                "data.options.features=gaussian", "encoder.hidden_dim=16",
                                "encoder.output_dim=16", "eval.random_init=false", "eval.raw_input=false",
                                "eval.every_n_epochs=0"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["pretrained"]["linear_acc"] <= 1
    assert sizes and max(sizes) < 2708  # every batch (training and evaluation) a sampled subgraph

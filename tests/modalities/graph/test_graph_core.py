"""The graph modality's core: batches (node and graph level), views, encoders, and a run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import selfsup
from selfsup.data import load_data
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.modalities.graph.data.source import graph_source, node_source
from selfsup.modalities.graph.encoders.gnn import GNN
from selfsup.modalities.graph.views.augment import (
    GraphAugment,
    drop_edges,
    drop_nodes,
    mask_features,
)

QUIET = ["eval.random_init=false", "eval.raw_input=false", "eval.every_n_epochs=0"]


def _ring(n: int) -> np.ndarray:
    a = np.arange(n)
    edges = np.stack([a, (a + 1) % n])
    return np.concatenate([edges, edges[::-1]], axis=1)


def test_a_node_batch_is_the_whole_graph_and_the_batch_nodes():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    source = node_source("ring", x, _ring(10), y=np.arange(10) % 2, test_fraction=0.2)
    assert source.n_train == 8 and source.n_test == 2
    batch = source.collate(source.train.__getitems__([0, 3]))
    g = batch["x"]
    assert g.node_level and len(g) == 2 and g.num_nodes == 10 and g.edge_index.shape[1] == 20
    assert torch.equal(batch["y"], source.y_train[[0, 3]])
    assert torch.equal(g.nodes, source.train.ids[[0, 3]])


def test_a_graph_batch_renumbers_each_graphs_nodes_and_keeps_its_edges():
    # three graphs: a triangle (nodes 0-2), an edge (3-4), a path of 3 (5-7)
    x = np.arange(8, dtype=np.float32)[:, None]
    edges = np.array([[0, 1, 2, 3, 5, 6], [1, 2, 0, 4, 6, 7]])
    edges = np.concatenate([edges, edges[::-1]], axis=1)
    graph_index = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    source = graph_source("three", x, edges, graph_index, y=None, test_fraction=0.2)
    batch = source.collate(source.train.__getitems__([2, 0]))
    g = batch["x"]
    assert len(g) == 2 and g.num_nodes == 6
    assert g.x[:, 0].tolist() == [5, 6, 7, 0, 1, 2]  # graph 2 first, then graph 0
    assert g.batch.tolist() == [0, 0, 0, 1, 1, 1]
    pairs = {tuple(e) for e in g.edge_index.t().tolist()}
    assert pairs == {(0, 1), (1, 2), (1, 0), (2, 1), (3, 4), (4, 5), (5, 3), (4, 3), (5, 4), (3, 5)}


def test_one_graph_is_refused_for_a_graph_level_task():
    with pytest.raises(selfsup.SelfsupError, match="1 graph"):
        graph_source("one", np.ones((3, 1), np.float32), _ring(3), np.zeros(3, dtype=np.int64))


def test_views_drop_edges_mask_dimensions_and_drop_nodes_but_keep_the_samples():
    torch.manual_seed(0)
    g = Graphs(torch.ones(100, 50), torch.as_tensor(_ring(100)), nodes=torch.arange(10))
    assert drop_edges(g, 0.5).edge_index.shape[1] == pytest.approx(100, abs=30)
    masked = mask_features(g, 0.5).x
    assert set(masked.sum(0).unique().tolist()) <= {0.0, 100.0}  # whole dimensions
    dropped = drop_nodes(g, 0.5)
    assert dropped.x[:10].sum() == 10 * 50  # the batch's own nodes are never dropped
    views = GraphAugment(GraphSpec(50), drop_edge=(0.0, 0.9), mask_feature=0.0)({"x": g}, 2)
    assert views[0]["x"].edge_index.shape[1] == 200 and views[1]["x"].edge_index.shape[1] < 60
    assert all(torch.equal(v["x"].nodes, g.nodes) for v in views)
    with pytest.raises(ValueError, match="drop_edge"):
        GraphAugment(drop_edge=(0.2, 1.0))


def test_dropped_edges_and_nodes_take_their_weights_with_them():
    torch.manual_seed(0)
    edges = torch.as_tensor(_ring(50))
    weight = edges[0].float() * 1000 + edges[1].float()  # each weight names its edge
    g = Graphs(torch.ones(50, 3), edges, nodes=torch.arange(5), edge_weight=weight)
    for view in (drop_edges(g, 0.5), drop_nodes(g, 0.5)):
        assert view.edge_weight.shape[0] == view.edge_index.shape[1] < 100
        assert torch.equal(view.edge_weight, view.edge_index[0].float() * 1000 + view.edge_index[1].float())


@pytest.mark.parametrize("conv", ["gcn", "gat", "gin", "sage"])
def test_encoders_give_the_batch_nodes_or_one_row_per_graph(conv):
    g = Graphs(torch.randn(12, 5), torch.as_tensor(_ring(12)), nodes=torch.tensor([1, 4, 7]))
    node_encoder = GNN(GraphSpec(5, "node"), conv=conv, hidden_dim=8, output_dim=8)
    assert node_encoder(g).shape == (3, 8) and node_encoder.node_embeddings(g).shape == (12, 8)
    pooled = Graphs(g.x, g.edge_index, batch=torch.tensor([0] * 6 + [1] * 6), num_graphs=2)
    assert GNN(GraphSpec(5, "graph"), conv=conv, hidden_dim=8, output_dim=8)(pooled).shape == (2, 8)


def test_grace_on_karate_end_to_end_and_embed_keeps_node_order(tmp_path):
    out = tmp_path / "r"
    selfsup.pretrain(method="grace", data="karate", epochs=3, batch_size=16, out=str(out), progress=False,
                     overrides=QUIET)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["num_features"] == 34 and metrics["data"]["task"] == "node"
    assert 0 <= metrics["pretrained"]["linear_acc"] <= 1
    # karate has no split of its own: 10 random ones
    assert 0 <= metrics["pretrained"]["split_acc"] <= 1 and metrics["pretrained"]["split_acc_std"] >= 0
    assert any(note.startswith("split_acc: mean ± std over 10 random 10/10/80") for note in metrics["notes"])
    emb = selfsup.embed(out, data="karate")
    assert emb.shape == (34, 256)
    encoder = selfsup.load(out).eval()
    source = load_data("karate")
    whole = Graphs(source.collate.x, source.collate.edge_index, nodes=torch.arange(34))
    with torch.no_grad():
        np.testing.assert_allclose(emb, encoder(whole).numpy(), rtol=1e-4, atol=1e-5)


def test_each_graph_source_carries_its_papers_evaluation_protocol():
    from selfsup.modalities.graph.data.generators import sbm_citation

    planetoid = load_data("sbm_citation")
    assert planetoid.protocol.kind == "fixed_split" and len(planetoid.protocol.train) == 140
    assert len(planetoid.protocol.val) == 500
    train_nodes = planetoid.train.ids.numpy()
    g = sbm_citation(seed=0)
    np.testing.assert_array_equal(train_nodes[planetoid.protocol.train], np.flatnonzero(g["train_mask"]))
    np.testing.assert_array_equal(train_nodes[planetoid.protocol.val], np.flatnonzero(g["val_mask"]))
    assert load_data("karate").protocol.kind == "random_splits"
    assert load_data("synthetic_motifs").protocol.kind == "svm_cv"
    ring = node_source("ring", np.eye(10, dtype=np.float32), _ring(10))
    assert ring.protocol is None  # no labels, no protocol


def test_concatenated_layer_outputs_hold_every_layers_embedding():
    torch.manual_seed(0)
    g = Graphs(torch.randn(12, 5), torch.as_tensor(_ring(12)), batch=torch.arange(12) // 6, num_graphs=2)
    last = GNN(GraphSpec(5, "graph"), conv="gin", hidden_dim=8, output_dim=4, layers=3, readout="sum").eval()
    concat = GNN(GraphSpec(5, "graph"), conv="gin", hidden_dim=8, output_dim=4, layers=3, readout="sum",
                 layer_outputs="concat").eval()
    concat.load_state_dict(last.state_dict())
    assert concat.output_dim == 8 + 8 + 4
    with torch.no_grad():
        out = concat(g)
        assert out.shape == (2, 20)
        torch.testing.assert_close(out[:, -4:], last(g))  # the last block is the last layer's pooling
    with pytest.raises(ValueError, match="layer_outputs"):
        GNN(GraphSpec(5), layer_outputs="max")

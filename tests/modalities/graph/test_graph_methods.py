"""Graph-level methods: GraphCL (its loss and views) and InfoGraph (its JSD estimator)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import selfsup
from selfsup.data import DataSource
from selfsup.losses.nt_xent import nt_xent
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.modalities.graph.data.source import graph_source
from selfsup.modalities.graph.encoders.gnn import GNN
from selfsup.modalities.graph.losses.graphcl import graphcl_loss
from selfsup.modalities.graph.losses.infograph import infograph_jsd_loss
from selfsup.modalities.graph.methods.graphcl import GraphCL
from selfsup.modalities.graph.methods.infograph import InfoGraph
from selfsup.modalities.graph.views.graphcl import GraphCLAugment
from selfsup.views import IdentityViews

QUIET = ["eval.random_init=false", "eval.raw_input=false", "eval.every_n_epochs=0"]
SPEC = GraphSpec(3, "graph")


def rings_and_paths(num_graphs: int = 48, seed: int = 0) -> DataSource:
    """Rings (label 1) and paths (label 0) of 6-14 nodes with random features, undirected."""
    rng = np.random.default_rng(seed)
    xs, edges, graph_index, y, offset = [], [], [], [], 0
    for g in range(num_graphs):
        n, label = int(rng.integers(6, 15)), g % 2
        a = np.arange(n)
        e = np.stack([a, (a + 1) % n]) if label else np.stack([a[:-1], a[1:]])
        edges.append(np.concatenate([e, e[::-1]], axis=1) + offset)
        xs.append(rng.normal(size=(n, 3)).astype(np.float32))
        graph_index += [g] * n
        y.append(label)
        offset += n
    return graph_source("rings_and_paths", np.concatenate(xs), np.concatenate(edges, axis=1),
                        np.array(graph_index), np.array(y))


def a_batch(num_graphs: int = 16) -> Graphs:
    source = rings_and_paths()
    return source.collate(source.train.__getitems__(list(range(num_graphs))))["x"]


def gin() -> GNN:
    return GNN(SPEC, conv="gin", hidden_dim=16, output_dim=16, layers=2, readout="sum",
               batch_norm=True)


# --- GraphCL's loss ------------------------------------------------------------------------------

def test_graphcl_loss_equals_eq_3_computed_directly():
    torch.manual_seed(0)
    z1, z2, tau = torch.randn(6, 5), torch.randn(6, 5), 0.2
    cos = lambda a, b: float(a @ b / (a.norm() * b.norm()))
    expected = 0.0
    for n in range(6):
        positive = math.exp(cos(z1[n], z2[n]) / tau)
        negatives = sum(math.exp(cos(z1[n], z2[m]) / tau) for m in range(6) if m != n)
        expected += -math.log(positive / negatives) / 6
    assert graphcl_loss(z1, z2, tau).item() == pytest.approx(expected, rel=1e-5)


def test_graphcl_loss_has_no_intra_view_negatives():
    # Two first views with the same cosines to the second view but different cosines among
    # themselves (extra dimensions, where the second view is zero): NT-Xent, whose negatives
    # include the own view, tells them apart; GraphCL's loss (inter-view negatives only) does not.
    torch.manual_seed(0)
    u, z2 = torch.randn(4, 6), torch.cat([torch.randn(4, 6), torch.zeros(4, 4)], dim=1)
    aligned = torch.cat([u, 2 * torch.eye(4)[[0, 0, 0, 0]]], dim=1)  # extra parts all equal
    spread = torch.cat([u, 2 * torch.eye(4)], dim=1)  # extra parts orthogonal
    assert graphcl_loss(aligned, z2).item() == pytest.approx(graphcl_loss(spread, z2).item(),
                                                             rel=1e-6)
    assert nt_xent(aligned, z2, 0.2).item() != pytest.approx(nt_xent(spread, z2, 0.2).item(),
                                                             rel=1e-3)


def test_graphcl_loss_refuses_a_non_positive_temperature_and_one_graph():
    with pytest.raises(ValueError, match="temperature"):
        graphcl_loss(torch.randn(4, 3), torch.randn(4, 3), 0.0)
    with pytest.raises(ValueError, match="2 graphs"):
        graphcl_loss(torch.randn(1, 3), torch.randn(1, 3))


# --- GraphCL's views -----------------------------------------------------------------------------

def _views(name: str, seed: int = 0) -> tuple[Graphs, Graphs]:
    torch.manual_seed(seed)
    g = a_batch()
    return g, GraphCLAugment(SPEC, augmentations=[name], ratio=0.2).augment(g, 0)


def _nodes_per_graph(g: Graphs) -> torch.Tensor:
    return torch.bincount(g.batch, minlength=g.num_graphs)


def _edge_set(g: Graphs) -> set[tuple[int, int]]:
    return {tuple(e) for e in g.edge_index.t().tolist()}


def test_node_dropping_removes_a_fifth_of_each_graphs_nodes_and_their_edges():
    g, view = _views("drop_node")
    assert view.num_graphs == g.num_graphs
    dropped = (_nodes_per_graph(g) * 0.2).floor().long()
    assert torch.equal(_nodes_per_graph(view), _nodes_per_graph(g) - dropped)
    assert view.x.shape == (view.num_nodes, 3) and int(view.edge_index.max()) < view.num_nodes
    # every kept row of x is one of the graph's rows, and edges stay within graphs
    assert all(any(torch.equal(row, other) for other in g.x) for row in view.x[:10])
    assert torch.equal(view.batch[view.edge_index[0]], view.batch[view.edge_index[1]])


def test_subgraph_keeps_the_random_walks_nodes_connected():
    g, view = _views("subgraph")
    expected = torch.ceil(_nodes_per_graph(g) * 0.8).long()
    assert torch.equal(_nodes_per_graph(view), expected)
    # rings and paths: the nodes a walk reaches form one arc, so a kept graph of k nodes is
    # connected (k - 1 undirected edges at least)
    for b in range(view.num_graphs):
        nodes = torch.nonzero(view.batch == b).flatten()
        inside = (view.batch[view.edge_index[0]] == b).sum().item() // 2
        assert inside >= len(nodes) - 1


def test_edge_perturbation_swaps_a_fifth_of_each_graphs_edges_and_stays_undirected():
    g, view = _views("perturb_edge")
    assert torch.equal(view.x, g.x) and torch.equal(view.batch, g.batch)
    assert view.edge_index.shape == g.edge_index.shape
    edges = _edge_set(view)
    assert all((v, u) in edges for u, v in edges)
    assert torch.equal(view.batch[view.edge_index[0]], view.batch[view.edge_index[1]])
    removed = len(_edge_set(g) - edges) // 2
    assert removed >= sum(int(m * 0.2) for m in torch.bincount(g.batch[g.edge_index[0]]) // 2) - 2


def test_attribute_masking_replaces_a_fifth_of_each_graphs_feature_rows():
    g, view = _views("mask_attribute")
    changed = (view.x != g.x).any(dim=1)
    assert torch.equal(torch.bincount(g.batch[changed], minlength=g.num_graphs),
                       (_nodes_per_graph(g) * 0.2).floor().long())
    assert torch.equal(view.edge_index, g.edge_index)


def test_each_graph_of_a_view_gets_one_augmentation_from_the_pool():
    torch.manual_seed(0)
    g = a_batch()
    view = GraphCLAugment(SPEC, augmentations=["drop_node", "mask_attribute"]).augment(g, 0)
    dropped = _nodes_per_graph(view) < _nodes_per_graph(g)
    assert 0 < int(dropped.sum()) < g.num_graphs  # both augmentations drawn across the batch


@pytest.mark.parametrize("kwargs, name", [
    ({"ratio": 1.0}, "ratio"),
    ({"ratio": True}, "ratio"),
    ({"augmentations": ["rotate"]}, "augmentations"),
    ({"augmentations": []}, "augmentations"),
])
def test_graphcl_views_refuse_invalid_options_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GraphCLAugment(SPEC, **kwargs)


def test_graphcl_views_refuse_node_level_data():
    with pytest.raises(ValueError, match="graph_augment"):
        GraphCLAugment(GraphSpec(3, "node"))


# --- InfoGraph's estimator -----------------------------------------------------------------------

def test_infograph_jsd_loss_equals_eq_4_computed_directly():
    torch.manual_seed(0)
    local, summary = torch.randn(7, 4), torch.randn(3, 4)
    graph_index = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    softplus = lambda t: math.log1p(math.exp(t))
    positives, negatives = [], []
    for u in range(7):
        for b in range(3):
            score = float(local[u] @ summary[b])
            (positives if graph_index[u] == b else negatives).append(score)
    mi = sum(-softplus(-t) for t in positives) / 7 - sum(softplus(t) for t in negatives) / 14
    assert infograph_jsd_loss(local, summary, graph_index).item() == pytest.approx(-mi, rel=1e-5)


def test_infograph_jsd_loss_is_two_log_two_at_zero_scores_and_falls_when_pairs_separate():
    graph_index = torch.tensor([0, 0, 1, 1])
    summary = torch.eye(2)
    zero = infograph_jsd_loss(torch.zeros(4, 2), summary, graph_index)
    assert zero.item() == pytest.approx(2 * math.log(2))
    local = 5 * torch.eye(2)[graph_index] - 5 * torch.eye(2)[1 - graph_index]
    separated = infograph_jsd_loss(local, summary, graph_index)
    assert separated.item() < 0.02


def test_infograph_jsd_loss_refuses_one_graph():
    with pytest.raises(ValueError, match="2 graphs"):
        infograph_jsd_loss(torch.randn(3, 2), torch.randn(1, 2), torch.zeros(3, dtype=torch.long))


# --- the methods ---------------------------------------------------------------------------------

def _method(name: str):
    if name == "graphcl":
        return GraphCL(gin(), GraphCLAugment(SPEC), projector_hidden_dim=16, projector_dim=8)
    return InfoGraph(gin(), IdentityViews(), discriminator_dim=8)


@pytest.mark.parametrize("name", ["graphcl", "infograph"])
def test_a_graph_method_gives_a_finite_loss_with_gradients_into_the_encoder(name):
    torch.manual_seed(0)
    method = _method(name)
    batch = {"x": a_batch(), "index": torch.arange(16)}
    out = method(batch)
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parameters())
    assert method.eval().embed(batch).shape == (16, 16)


@pytest.mark.parametrize("build, kwargs, name", [
    (GraphCL, {"temperature": 0}, "temperature"),
    (GraphCL, {"temperature": "0.2"}, "temperature"),
    (GraphCL, {"projector_dim": 0}, "projector_dim"),
    (GraphCL, {"projector_hidden_dim": 1.5}, "projector_hidden_dim"),
    (InfoGraph, {"discriminator_dim": 0}, "discriminator_dim"),
    (InfoGraph, {"discriminator_layers": 0}, "discriminator_layers"),
])
def test_a_graph_method_refuses_invalid_options_by_name(build, kwargs, name):
    with pytest.raises(ValueError, match=name):
        build(gin(), IdentityViews(), **kwargs)


def test_infograph_refuses_a_node_level_encoder_and_one_without_node_embeddings():
    with pytest.raises(ValueError, match="graph-level"):
        InfoGraph(GNN(GraphSpec(3, "node"), conv="gin"), IdentityViews())
    with pytest.raises(ValueError, match="encoder"):
        InfoGraph(torch.nn.Linear(3, 4), IdentityViews())


@pytest.mark.parametrize("name", ["graphcl", "infograph"])
def test_a_graph_method_pretrains_end_to_end_with_its_recipe_defaults(name, tmp_path):
    out = tmp_path / "r"
    selfsup.pretrain(method=name, data=rings_and_paths(80), epochs=2, batch_size=32, out=str(out),
                     progress=False, overrides=QUIET)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["task"] == "graph"
    assert 0 <= metrics["pretrained"]["linear_acc"] <= 1

"""GCA: the adaptive drop probabilities against hand computations, the cut-off, empirical drop
rates, per-view rates, the centralities against networkx/NumPy, option checks, and training."""

from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pytest
import torch

import selfsup
from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.modalities.graph.encoders.gnn import GNN
from selfsup.modalities.graph.methods.gca import GCA
from selfsup.modalities.graph.methods.grace import GRACE
from selfsup.modalities.graph.views.adaptive import (
    GCAAugment,
    degree_centrality,
    edge_drop_probabilities,
    eigenvector_centrality,
    feature_mask_probabilities,
    pagerank_centrality,
)
from selfsup.registry import METHODS, VIEWS

QUIET = ["eval.random_init=false", "eval.raw_input=false", "eval.every_n_epochs=0"]


def undirected(pairs: list[tuple[int, int]]) -> torch.Tensor:
    """Both directions of each pair, as PyG stores an undirected graph."""
    return torch.tensor([[a for a, b in pairs] + [b for a, b in pairs],
                         [b for a, b in pairs] + [a for a, b in pairs]])


STAR = undirected([(0, 1), (0, 2), (0, 3), (0, 4)])  # hub 0 (degree 4), leaves of degree 1


def test_on_a_star_edges_into_the_hub_are_kept_and_edges_to_leaves_dropped_at_twice_the_rate():
    p = edge_drop_probabilities(STAR, degree_centrality(STAR, 5), rate=0.3, cutoff=0.7)
    into_hub = STAR[1] == 0
    # scores log(5) (into the hub) and log(2) (to a leaf), half each: mean halfway, so
    # (s_max - s_leaf) / (s_max - mean) = 2
    assert torch.all(p[into_hub] == 0)
    torch.testing.assert_close(p[~into_hub], torch.full((4,), 0.6))
    assert float(p.mean()) == pytest.approx(0.3, abs=0.01)  # 0.3 before the cut-off


def test_probabilities_are_capped_at_the_cutoff():
    p = edge_drop_probabilities(STAR, degree_centrality(STAR, 5), rate=0.4, cutoff=0.7)
    torch.testing.assert_close(p[STAR[1] != 0], torch.full((4,), 0.7))  # 2 * 0.4 = 0.8, cut to 0.7
    q = edge_drop_probabilities(STAR, degree_centrality(STAR, 5), rate=0.4, cutoff=0.5)
    assert float(q.max()) == pytest.approx(0.5)


def test_edge_probabilities_on_a_path_match_the_papers_formula_by_hand():
    path = undirected([(0, 1), (1, 2), (2, 3)])  # degrees 1, 2, 2, 1
    p = edge_drop_probabilities(path, degree_centrality(path, 4), rate=0.2, cutoff=0.7)
    degree = [1, 2, 2, 1]
    s = [math.log(degree[v] + 1) for v in path[1].tolist()]
    s_max, mean = max(s), sum(s) / len(s)
    expected = [min((s_max - x) / (s_max - mean) * 0.2, 0.7) for x in s]
    np.testing.assert_allclose(p.numpy(), expected, rtol=1e-6)


def test_the_mean_rule_gives_both_directions_of_an_edge_one_probability():
    path = undirected([(0, 1), (1, 2), (2, 3)])
    p = edge_drop_probabilities(path, degree_centrality(path, 4), 0.3, 0.7, edge_centrality="mean")
    torch.testing.assert_close(p[:3], p[3:])
    star = edge_drop_probabilities(STAR, degree_centrality(STAR, 5), 0.3, 0.7, edge_centrality="mean")
    torch.testing.assert_close(star, torch.full((8,), 0.3))  # every star edge scores alike


def test_feature_probabilities_weigh_each_dimension_by_the_centrality_of_the_nodes_having_it():
    x = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -2.0], [0.0, 0.0, 0.0]])
    phi = degree_centrality(STAR, 5)  # [4, 1, 1, 1, 1]
    q = feature_mask_probabilities(x, phi, rate=0.3, cutoff=0.7)
    w = [1.0 * 4, 1.0 + 1.0, 0.5 * 4 + 2.0 * 1]  # sum_u |x_ui| phi(u)
    s = [math.log(v + 1) for v in w]
    expected = [min((max(s) - v) / (max(s) - sum(s) / 3) * 0.3, 0.7) for v in s]
    np.testing.assert_allclose(q.numpy(), expected, rtol=1e-6)
    assert q[0] == q[2] == 0 and q[1] > 0  # the hub's feature (and one as heavy) is never masked


def test_equal_scores_give_every_edge_the_overall_rate():
    ring = undirected([(i, (i + 1) % 6) for i in range(6)])
    p = edge_drop_probabilities(ring, degree_centrality(ring, 6), 0.25, 0.7)
    torch.testing.assert_close(p, torch.full_like(p, 0.25))


def test_empirical_drop_rates_match_the_probabilities():
    torch.manual_seed(0)
    karate = load_data("karate").collate
    g = Graphs(karate.x, karate.edge_index, nodes=torch.arange(34))
    views = GCAAugment(drop_edge=0.3, mask_feature=0.3)
    p = edge_drop_probabilities(g.edge_index, degree_centrality(g.edge_index, 34), 0.3, 0.7)
    key = g.edge_index[0] * 34 + g.edge_index[1]
    kept = torch.zeros(key.numel())
    draws = 600
    for _ in range(draws):
        view = views.augment(g, 0)
        kept += torch.isin(key, view.edge_index[0] * 34 + view.edge_index[1]).float()
    dropped = 1 - kept / draws
    assert float((dropped - p).abs().max()) < 0.08  # 600 draws: one standard deviation <= 0.02
    assert float(dropped.mean()) == pytest.approx(float(p.mean()), abs=0.01)
    assert float(p.mean()) == pytest.approx(0.3, abs=0.01)  # 0.3 before the cut-off


def test_each_view_gets_its_own_rates():
    torch.manual_seed(0)
    x = torch.rand(5, 8) + 0.1
    g = Graphs(x, STAR, nodes=torch.arange(5))
    views = GCAAugment(drop_edge=(0.0, 0.3), mask_feature=(0.3, 0.0))
    masked_edges = masked_features = 0
    for _ in range(50):
        first, second = views({"x": g}, 2)
        assert torch.equal(first["x"].edge_index, STAR) and torch.equal(second["x"].x, x)
        masked_edges += STAR.shape[1] - second["x"].edge_index.shape[1]
        masked_features += int((first["x"].x == 0).all(0).sum())
    assert masked_edges > 0 and masked_features > 0


def test_pagerank_is_networkx_pagerank_up_to_its_normalisation():
    graph = nx.karate_club_graph()
    edge_index = undirected(list(graph.edges()))
    ours = pagerank_centrality(edge_index, 34)
    theirs = nx.pagerank(graph, alpha=0.85, weight=None, tol=1e-12)
    expected = torch.tensor([theirs[i] for i in range(34)]) * 34 / 0.15
    torch.testing.assert_close(ours, expected.float(), rtol=1e-4, atol=1e-4)


def test_eigenvector_centrality_is_the_leading_eigenvector_per_graph():
    graph = nx.karate_club_graph()
    edge_index = undirected(list(graph.edges()))
    adjacency = nx.to_numpy_array(graph, weight=None)
    _, vectors = np.linalg.eigh(adjacency)  # ascending eigenvalues: the last is the leading one
    leading = np.abs(vectors[:, -1])
    np.testing.assert_allclose(eigenvector_centrality(edge_index, 34).numpy(), leading, atol=1e-4)
    # two copies side by side, as a graph-level batch: each of unit norm
    both = torch.cat([edge_index, edge_index + 34], dim=1)
    batch = torch.tensor([0] * 34 + [1] * 34)
    twice = eigenvector_centrality(both, 68, batch).numpy()
    np.testing.assert_allclose(twice, np.concatenate([leading, leading]), atol=1e-4)


@pytest.mark.parametrize("centrality", ["pagerank", "eigenvector"])
def test_the_slow_centralities_are_cached_for_the_same_graph(centrality):
    views = GCAAugment(centrality=centrality)
    g = Graphs(torch.rand(5, 3), STAR, nodes=torch.arange(2))
    first = views.node_centrality(g)
    assert views.node_centrality(g.with_(x=torch.rand(5, 3))) is first
    ring = undirected([(i, (i + 1) % 5) for i in range(5)])
    assert views.node_centrality(g.with_(edge_index=ring)) is not first


def test_edge_weights_follow_the_kept_edges():
    torch.manual_seed(0)
    weight = torch.arange(STAR.shape[1], dtype=torch.float)
    g = Graphs(torch.rand(5, 3), STAR, nodes=torch.arange(5), edge_weight=weight)
    view = GCAAugment(drop_edge=0.45, mask_feature=0.0).augment(g, 0)
    assert view.edge_index.shape[1] < STAR.shape[1]
    for column, w in zip(view.edge_index.T, view.edge_weight):
        assert torch.equal(STAR[:, int(w)], column)


@pytest.mark.parametrize("kwargs, option", [
    ({"centrality": "betweenness"}, "centrality"),
    ({"edge_centrality": "both"}, "edge_centrality"),
    ({"cutoff": 0.0}, "cutoff"),
    ({"cutoff": 1.0}, "cutoff"),
    ({"cutoff": True}, "cutoff"),
    ({"drop_edge": [0.2, 1.5]}, "drop_edge"),
    ({"mask_feature": -0.1}, "mask_feature"),
])
def test_a_bad_option_is_one_error_naming_it(kwargs, option):
    with pytest.raises(SelfsupError, match=f"Invalid option for view maker 'gca_augment': {option}"):
        VIEWS.build("gca_augment", GraphSpec(4), **kwargs)


def test_gca_is_grace_with_adaptive_views_by_default():
    entry = METHODS.entry("gca")
    assert entry.info.default_views == "gca_augment" and issubclass(GCA, GRACE)
    method = GCA(GNN(GraphSpec(34), hidden_dim=16, output_dim=16), GCAAugment())
    assert method.temperature == pytest.approx(0.4)


def test_gca_steps_lower_the_loss_on_karate():
    torch.manual_seed(0)
    source = load_data("karate")
    batch = source.collate(source.train.__getitems__(list(range(16))))
    method = GCA(GNN(GraphSpec(34), hidden_dim=16, output_dim=16), GCAAugment(centrality="pagerank"))
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = method(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(math.isfinite(v) for v in losses) and np.mean(losses[-3:]) < np.mean(losses[:3])


def test_gca_trains_on_sbm_citation_through_the_api(tmp_path):
    out = tmp_path / "r"
    selfsup.pretrain(method="gca", data="sbm_citation", epochs=2, batch_size=128, out=str(out), progress=False,
                     overrides=[*QUIET, "encoder.name=gcn", "encoder.hidden_dim=32", "encoder.output_dim=32",
                                            "data.options.num_nodes=600", "data.options.num_features=200"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["pretrained"]["linear_acc"] <= 1

"""The random-walk subgraph view: the kept graph is induced by the visited nodes, batch nodes are
never dropped, long walks keep a connected graph whole, seeds fix it, graph-level batches, the
walk follows messages backwards, option checks, and GRACE training on it."""

from __future__ import annotations

import networkx as nx
import pytest
import torch

from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.modalities.graph.encoders.gnn import GNN
from selfsup.modalities.graph.methods.grace import GRACE
from selfsup.modalities.graph.views.subgraph import (
    GraphSubgraph,
    in_neighbour_csr,
    random_walk_visits,
)
from selfsup.registry import VIEWS


@pytest.fixture(scope="module")
def karate() -> Graphs:
    collate = load_data("karate").collate
    return Graphs(collate.x, collate.edge_index, nodes=torch.tensor([0, 5, 16, 33]))


def edge_set(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in edge_index.T}


def test_the_view_is_the_subgraph_induced_by_the_visited_nodes(karate):
    views = GraphSubgraph(walks=2, walk_length=3, restart=0.3)
    torch.manual_seed(4)
    visited = views.visited(karate)
    torch.manual_seed(4)
    view = views.augment(karate, 0)
    assert 4 < int(visited.sum()) < 34  # a part of the graph, not all of it
    induced = {(a, b) for a, b in edge_set(karate.edge_index) if visited[a] and visited[b]}
    assert edge_set(view.edge_index) == induced
    assert torch.equal(view.x[visited], karate.x[visited]) and not view.x[~visited].any()


def test_batch_nodes_are_never_dropped():
    # node 3 is isolated: its walks go nowhere, and it stays
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    g = Graphs(torch.ones(5, 2), edge_index, nodes=torch.tensor([0, 3]))
    for seed in range(20):
        torch.manual_seed(seed)
        visited = GraphSubgraph(walks=1, walk_length=1, restart=0.9).visited(g)
        assert visited[0] and visited[3] and not visited[4]


def test_long_walks_keep_a_connected_graph_whole(karate):
    torch.manual_seed(0)
    view = GraphSubgraph(walks=4, walk_length=400, restart=0.0).augment(karate, 0)
    assert edge_set(view.edge_index) == edge_set(karate.edge_index) and torch.equal(view.x, karate.x)


def test_the_view_is_fixed_by_the_seed(karate):
    views = GraphSubgraph()
    torch.manual_seed(7)
    first = views.augment(karate, 0)
    torch.manual_seed(7)
    again = views.augment(karate, 0)
    other = views.augment(karate, 0)
    assert torch.equal(first.edge_index, again.edge_index) and torch.equal(first.x, again.x)
    assert not torch.equal(first.edge_index, other.edge_index)


def test_walks_go_against_the_edge_direction_to_the_nodes_that_send_messages():
    # a directed chain 0 -> 1 -> 2 -> 3: from node 3, a walk reaches what flows into it
    chain = torch.tensor([[0, 1, 2], [1, 2, 3]])
    rowptr, sources = in_neighbour_csr(chain, 4)
    assert rowptr.tolist() == [0, 0, 1, 2, 3] and sources.tolist() == [0, 1, 2]
    torch.manual_seed(0)
    assert random_walk_visits(chain, 4, torch.tensor([3]), 3, restart=0.0).all()
    assert random_walk_visits(chain, 4, torch.tensor([0]), 3, restart=0.0).tolist() == [True, False, False, False]


def test_graph_level_batches_keep_one_walks_subgraph_per_graph():
    torch.manual_seed(0)
    path = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    edge_index = torch.cat([path, path + 4, path + 8], dim=1)  # three 4-node paths side by side
    batch = torch.arange(3).repeat_interleave(4)
    g = Graphs(torch.ones(12, 3), edge_index, batch=batch, num_graphs=3)
    views = GraphSubgraph(walks=1, walk_length=1, restart=0.0)
    view = views.augment(g, 0)
    kept_nodes = view.x.any(1)
    # one start per graph and one step: two adjacent nodes in each graph, joined by their edge
    assert torch.bincount(batch[kept_nodes], minlength=3).tolist() == [2, 2, 2]
    assert view.edge_index.shape[1] == 6 and view.num_graphs == 3 and torch.equal(view.batch, batch)
    whole = GraphSubgraph(walks=2, walk_length=100, restart=0.0).augment(g, 0)
    assert torch.equal(whole.edge_index, edge_index)


def test_feature_masking_follows_with_a_rate_per_view(karate):
    torch.manual_seed(0)
    first, second = GraphSubgraph(walks=8, walk_length=50, restart=0.1, mask_feature=(0.0, 0.5))({"x": karate}, 2)
    kept = first["x"].x.any(1)
    assert torch.equal(first["x"].x[kept], karate.x[kept])
    assert (second["x"].x == 0).all(0).sum() > (first["x"].x == 0).all(0).sum()


def test_edge_weights_follow_the_kept_edges(karate):
    torch.manual_seed(0)
    weight = torch.arange(karate.edge_index.shape[1], dtype=torch.float)
    view = GraphSubgraph(walks=1, walk_length=2).augment(karate.with_(edge_weight=weight), 0)
    for column, w in zip(view.edge_index.T, view.edge_weight):
        assert torch.equal(karate.edge_index[:, int(w)], column)


@pytest.mark.parametrize("kwargs, option", [
    ({"walks": 0}, "walks"),
    ({"walk_length": 2.5}, "walk_length"),
    ({"restart": 1.0}, "restart"),
    ({"restart": -0.1}, "restart"),
    ({"mask_feature": [0.1, 1.2]}, "mask_feature"),
])
def test_a_bad_option_is_one_error_naming_it(kwargs, option):
    with pytest.raises(SelfsupError, match=f"Invalid option for view maker 'graph_subgraph': {option}"):
        VIEWS.build("graph_subgraph", GraphSpec(4), **kwargs)


@pytest.mark.parametrize("name, option", [
    ("graph_subgraph", "mask_feature"),
    ("graph_augment", "drop_node"),
    ("gca_augment", "drop_edge"),
])
def test_a_recipe_may_give_per_view_rates_as_a_list(name, option):
    # the option check compares a value with its default's kind: the default must be a pair
    views = VIEWS.build(name, GraphSpec(4), **{option: [0.1, 0.2]})
    assert getattr(views, option) == (0.1, 0.2)


def test_grace_trains_on_subgraph_views_of_karate():
    torch.manual_seed(0)
    source = load_data("karate")
    batch = source.collate(source.train.__getitems__(list(range(16))))
    method = GRACE(GNN(GraphSpec(34), hidden_dim=16, output_dim=16), GraphSubgraph(mask_feature=0.2))
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = method(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses))) and sum(losses[-3:]) < sum(losses[:3])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parameters())


def test_the_karate_graph_is_connected():  # what the keep-everything test relies on
    assert nx.is_connected(nx.karate_club_graph())

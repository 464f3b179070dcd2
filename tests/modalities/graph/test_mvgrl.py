"""MVGRL: the PPR diffusion against a direct NumPy formula, the heat diffusion against SciPy's
expm, their sparsification and cache, the cross-view loss against a by-hand computation,
gradients to both encoders, argument checks, edge weights through the GCN encoder, and a run
through the API."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg
import torch

import selfsup
from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.modalities.graph.encoders.gnn import GNN
from selfsup.modalities.graph.methods.mvgrl import MVGRL, heat_matrix, ppr_matrix, sparsify
from selfsup.views import IdentityViews

QUIET = ["eval.random_init=false", "eval.raw_input=false", "eval.every_n_epochs=0"]


@pytest.fixture(scope="module")
def karate_batch() -> dict:
    source = load_data("karate")
    return source.collate(source.train.__getitems__(list(range(16))))


def encoder(conv: str = "gcn") -> GNN:
    return GNN(GraphSpec(34), conv=conv, hidden_dim=16, output_dim=16)


def test_ppr_matrix_equals_the_direct_numpy_formula():
    # a path 0-1-2-3 and a triangle 4-5-6, undirected, and an isolated node 7
    pairs = [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 4)]
    edge_index = torch.tensor([[a for a, b in pairs] + [b for a, b in pairs],
                               [b for a, b in pairs] + [a for a, b in pairs]])
    a = np.zeros((8, 8))
    for i, j in pairs:
        a[i, j] = a[j, i] = 1
    a_hat = a + np.eye(8)
    d = np.diag(a_hat.sum(1) ** -0.5)
    expected = 0.2 * np.linalg.inv(np.eye(8) - 0.8 * d @ a_hat @ d)
    s = ppr_matrix(edge_index, 8, alpha=0.2)
    np.testing.assert_allclose(s.double().numpy(), expected, rtol=1e-5, atol=1e-6)
    assert s[7, 7] == pytest.approx(1.0)  # the isolated node keeps all its mass


def _path_triangle_isolated() -> tuple[torch.Tensor, np.ndarray]:
    """A path 0-1-2-3, a triangle 4-5-6 and an isolated node 7: edge_index and A + I."""
    pairs = [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (6, 4)]
    edge_index = torch.tensor([[a for a, b in pairs] + [b for a, b in pairs],
                               [b for a, b in pairs] + [a for a, b in pairs]])
    a = np.eye(8)
    for i, j in pairs:
        a[i, j] = a[j, i] = 1
    return edge_index, a


@pytest.mark.parametrize("t", [1.0, 5.0])
def test_heat_matrix_equals_scipy_expm_of_the_papers_formula(t):
    edge_index, a_hat = _path_triangle_isolated()
    expected = scipy.linalg.expm(t * a_hat @ np.diag(1 / a_hat.sum(0)) - t * np.eye(8))
    s = heat_matrix(edge_index, 8, t=t)
    np.testing.assert_allclose(s.double().numpy(), expected, rtol=1e-4, atol=1e-6)


def test_heat_matrix_is_column_stochastic_and_non_negative_also_on_a_directed_graph():
    edge_index, _ = _path_triangle_isolated()
    directed = torch.cat([edge_index, torch.tensor([[0, 0, 3], [4, 7, 6]])], dim=1)  # extra one-way edges
    for edges in (edge_index, directed):
        s = heat_matrix(edges, 8, t=5.0)
        torch.testing.assert_close(s.sum(0), torch.ones(8), rtol=0, atol=1e-5)
        assert (s >= -1e-7).all()
    assert not torch.allclose(heat_matrix(directed, 8).sum(1), torch.ones(8), atol=1e-2)  # rows do not
    # the heat stays within each component: the isolated node keeps all of its own
    assert heat_matrix(edge_index, 8)[7, 7] == pytest.approx(1.0)


def test_mvgrl_trains_a_few_steps_with_the_heat_diffusion(karate_batch):
    torch.manual_seed(0)
    method = MVGRL(encoder(), IdentityViews(), diffusion="heat", t=5.0, top_k=8)
    _, weight = method.diffusion(karate_batch["x"])
    s = heat_matrix(karate_batch["x"].edge_index, 34, t=5.0)
    torch.testing.assert_close(weight, s.topk(8, dim=1).values.flatten())
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = method(karate_batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses)) and np.mean(losses[-3:]) < np.mean(losses[:3])


def test_sparsify_keeps_the_top_k_of_each_row_above_the_threshold():
    s = torch.tensor([[0.5, 0.3, 0.1], [0.2, 0.6, 0.05], [0.01, 0.02, 0.9]])
    edge_index, weight = sparsify(s, top_k=2, threshold=0.04)
    kept = {(int(j), int(i)): float(w) for (j, i), w in zip(edge_index.T, weight)}
    # edge j -> i carries s[i, j]; row 2 keeps only its diagonal (0.02 is under the threshold)
    assert kept == pytest.approx({(0, 0): 0.5, (1, 0): 0.3, (1, 1): 0.6, (0, 1): 0.2, (2, 2): 0.9})


def test_the_gcn_encoder_uses_edge_weights():
    torch.manual_seed(0)
    gnn = encoder()
    g = Graphs(torch.randn(3, 34), torch.tensor([[0, 1], [1, 2]]), nodes=torch.arange(3))
    plain = gnn.node_embeddings(g)
    assert torch.equal(plain, gnn.node_embeddings(g.with_(edge_weight=torch.ones(2))))
    assert not torch.allclose(plain, gnn.node_embeddings(g.with_(edge_weight=torch.tensor([5.0, 0.1]))))
    assert g.with_(edge_weight=torch.ones(2)).to("cpu").edge_weight is not None


def test_loss_is_the_cross_view_bce_and_the_diffusion_is_cached(karate_batch):
    torch.manual_seed(0)
    method = MVGRL(encoder(), IdentityViews(), top_k=8)
    g = karate_batch["x"]
    edge_index, weight = method.diffusion(g)
    assert method.diffusion(g)[0] is edge_index  # cached
    assert edge_index.shape[1] == 34 * 8 and (weight > 0).all()
    torch.manual_seed(1)
    permutation = torch.randperm(g.num_nodes)
    with torch.no_grad():
        diffused = g.with_(edge_index=edge_index, edge_weight=weight)
        h_a, h_d = method.encoder.node_embeddings(g), method.diffusion_encoder.node_embeddings(diffused)
        n_a = method.encoder.node_embeddings(g.with_(x=g.x[permutation]))
        n_d = method.diffusion_encoder.node_embeddings(diffused.with_(x=g.x[permutation]))
        s_a, s_d = torch.sigmoid(h_a.mean(0)), torch.sigmoid(h_d.mean(0))
        W, b = method.discriminator.weight[0], method.discriminator.bias
        rows = g.nodes
        pos = torch.cat([h_a[rows] @ W @ s_d, h_d[rows] @ W @ s_a]) + b
        neg = torch.cat([n_a[rows] @ W @ s_d, n_d[rows] @ W @ s_a]) + b
        by_hand = -(torch.log(torch.sigmoid(pos)).sum() + torch.log(1 - torch.sigmoid(neg)).sum()) / (4 * len(rows))
        torch.manual_seed(1)
        loss = method(karate_batch)["loss"]
    assert float(loss) == pytest.approx(float(by_hand), rel=1e-4)


@pytest.mark.parametrize("loss_nodes", ["batch", "all"])
def test_loss_is_finite_and_gradients_reach_both_encoders(loss_nodes, karate_batch):
    torch.manual_seed(0)
    method = MVGRL(encoder(), IdentityViews(), loss_nodes=loss_nodes)
    assert not torch.equal(method.encoder.convs[0].lin.weight, method.diffusion_encoder.convs[0].lin.weight)
    out = method(karate_batch)
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    for part in (method.encoder, method.diffusion_encoder, method.discriminator):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


@pytest.mark.parametrize("kwargs, argument", [
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": 1.5}, "alpha"),
    ({"alpha": True}, "alpha"),
    ({"top_k": 0}, "top_k"),
    ({"top_k": 2.5}, "top_k"),
    ({"threshold": -0.1}, "threshold"),
    ({"loss_nodes": "some"}, "loss_nodes"),
    ({"diffusion": "katz"}, "diffusion"),
    ({"t": 0}, "t must be a number > 0"),
    ({"t": "5"}, "t must be a number > 0"),
])
def test_invalid_arguments_are_refused_naming_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        MVGRL(encoder(), IdentityViews(), **kwargs)


def test_an_encoder_without_edge_weights_is_refused():
    with pytest.raises(ValueError, match="edge weights"):
        MVGRL(encoder("sage"), IdentityViews())


def test_graphs_too_large_for_the_dense_diffusion_are_refused():
    with pytest.raises(ValueError, match="grace or dgi") as error:
        ppr_matrix(torch.zeros(2, 0, dtype=torch.long), 5001)
    assert isinstance(error.value, SelfsupError)


def test_score_equals_the_bilinear_discriminator():
    method = MVGRL(encoder(), IdentityViews())
    h, summary = torch.randn(7, 16), torch.rand(16)
    torch.testing.assert_close(method.score(h, summary), method.discriminator(h, summary.expand_as(h)).squeeze(-1))


def test_pretrain_runs_mvgrl_end_to_end(tmp_path):
    out = tmp_path / "r"
    selfsup.pretrain(method="mvgrl", data="karate", epochs=2, batch_size=16, out=str(out), progress=False,
                     overrides=QUIET)
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["pretrained"]["linear_acc"] <= 1

"""The node-level graph methods DGI, BGRL, CCA-SSG and GraphMAE: losses against independent
formulations, gradients, training steps, argument checks, and a run of each through the API."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import selfsup
from selfsup.data import load_data
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.modalities.graph.encoders.gnn import GNN
from selfsup.modalities.graph.losses.cca_ssg import cca_ssg_terms
from selfsup.modalities.graph.losses.dgi import dgi_loss
from selfsup.modalities.graph.losses.graphmae import scaled_cosine_error
from selfsup.modalities.graph.methods.bgrl import BGRL
from selfsup.modalities.graph.methods.cca_ssg import CCASSG
from selfsup.modalities.graph.methods.dgi import DGI
from selfsup.modalities.graph.methods.graphmae import GraphMAE
from selfsup.modalities.graph.views.augment import GraphAugment
from selfsup.views import IdentityViews

QUIET = ["eval.random_init=false", "eval.raw_input=false", "eval.every_n_epochs=0"]
METHODS = ("dgi", "bgrl", "cca_ssg", "graphmae")


@pytest.fixture(scope="module")
def karate_batch() -> dict:
    """16 of karate's 34 nodes, with the whole graph (34 one-hot features)."""
    source = load_data("karate")
    return source.collate(source.train.__getitems__(list(range(16))))


def encoder(conv: str = "gcn", task: str = "node") -> GNN:
    return GNN(GraphSpec(34, task), conv=conv, hidden_dim=16, output_dim=16)


def build(name: str, **kwargs) -> nn.Module:
    if name == "dgi":
        return DGI(encoder(), IdentityViews(), **kwargs)
    if name == "bgrl":
        return BGRL(encoder(), GraphAugment(), predictor_hidden_dim=32, **kwargs)
    if name == "cca_ssg":
        return CCASSG(encoder(), GraphAugment(), **kwargs)
    return GraphMAE(encoder("gat"), IdentityViews(), **kwargs)


def seeded_loss(method: nn.Module, batch: dict, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return method(batch)["loss"]


@pytest.mark.parametrize("name", METHODS)
def test_loss_is_a_finite_scalar_whose_gradient_reaches_the_encoder(name, karate_batch):
    torch.manual_seed(0)
    method = build(name)
    loss = method(karate_batch)["loss"]
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in method.encoder.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", METHODS)
def test_a_few_adam_steps_lower_the_loss_on_a_fixed_batch(name, karate_batch):
    torch.manual_seed(0)
    method = build(name)
    optimizer = torch.optim.Adam([p for p in method.parameters() if p.requires_grad], lr=1e-2)
    with torch.no_grad():
        before = float(seeded_loss(method, karate_batch))
    for step in range(15):
        loss = seeded_loss(method, karate_batch, seed=step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.on_step_end((step + 1) / 15)
    with torch.no_grad():
        after = float(seeded_loss(method, karate_batch))
    assert after < before


@pytest.mark.parametrize("name, kwargs, argument", [
    ("dgi", {"loss_nodes": "some"}, "loss_nodes"),
    ("bgrl", {"momentum_base": 1.5}, "momentum_base"),
    ("bgrl", {"momentum_base": True}, "momentum_base"),
    ("cca_ssg", {"decorrelation_weight": -1.0}, "decorrelation_weight"),
    ("cca_ssg", {"decorrelation_weight": float("nan")}, "decorrelation_weight"),
    ("graphmae", {"mask_rate": 0.0}, "mask_rate"),
    ("graphmae", {"mask_rate": 1.0}, "mask_rate"),
    ("graphmae", {"replace_rate": 1.0}, "replace_rate"),
    ("graphmae", {"gamma": 0}, "gamma"),
    ("graphmae", {"decoder": "mlp"}, "decoder"),
])
def test_invalid_arguments_are_refused_naming_the_argument(name, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        build(name, **kwargs)


def test_bgrl_refuses_a_predictor_without_width():
    with pytest.raises(ValueError, match="predictor_hidden_dim"):
        BGRL(encoder(), GraphAugment(), predictor_hidden_dim=0)


class PooledOnly(nn.Module):
    """An encoder with the pooled output only, no ``node_embeddings``."""

    output_dim = 4
    input_dim = 34

    def forward(self, g):
        return torch.zeros(len(g), 4)


@pytest.mark.parametrize("method", [DGI, GraphMAE])
def test_methods_that_need_every_node_refuse_an_encoder_without_node_embeddings(method):
    with pytest.raises(ValueError, match="node_embeddings"):
        method(PooledOnly(), IdentityViews())


def test_dgi_refuses_an_encoder_built_for_graph_level_data():
    with pytest.raises(ValueError, match="node-level"):
        DGI(encoder(task="graph"), IdentityViews())


# ----------------------------------------------------------------------------------------- DGI


def test_dgi_loss_is_binary_cross_entropy_of_positives_against_negatives():
    positive, negative = torch.randn(5), torch.randn(7)
    sigmoid = lambda t: 1 / (1 + np.exp(-t.numpy().astype(np.float64)))
    by_hand = -(np.log(sigmoid(positive)).sum() + np.log(1 - sigmoid(negative)).sum()) / 12
    assert float(dgi_loss(positive, negative)) == pytest.approx(by_hand, rel=1e-5)
    assert float(dgi_loss(torch.zeros(3), torch.zeros(3))) == pytest.approx(np.log(2))


@pytest.mark.parametrize("loss_nodes", ["batch", "all"])
def test_dgi_scores_real_and_shuffled_nodes_against_the_sigmoid_mean_summary(loss_nodes, karate_batch):
    torch.manual_seed(0)
    method = DGI(encoder(), IdentityViews(), loss_nodes=loss_nodes)
    g = karate_batch["x"]
    torch.manual_seed(1)
    permutation = torch.randperm(g.num_nodes)  # the corruption's shuffle under the same seed
    with torch.no_grad():
        h = method.encoder.node_embeddings(g).double()
        h_corrupt = method.encoder.node_embeddings(g.with_(x=g.x[permutation])).double()
        summary = torch.sigmoid(h.mean(0))
        W, b = method.discriminator.weight[0].double(), method.discriminator.bias.double()
        rows = g.nodes if loss_nodes == "batch" else torch.arange(g.num_nodes)
        positive, negative = h[rows] @ W @ summary + b, h_corrupt[rows] @ W @ summary + b
        by_hand = -(torch.log(torch.sigmoid(positive)).sum()
                    + torch.log(1 - torch.sigmoid(negative)).sum()) / (2 * len(rows))
        torch.manual_seed(1)
        loss = method(karate_batch)["loss"]
    assert float(loss) == pytest.approx(float(by_hand), rel=1e-4)


# ---------------------------------------------------------------------------------------- BGRL


def test_bgrl_target_is_in_the_state_dict_gets_no_gradient_and_follows_the_encoder(karate_batch):
    torch.manual_seed(0)
    method = BGRL(encoder(), GraphAugment(), momentum_base=0.5)
    assert any(k.startswith("teacher.encoder.") for k in method.state_dict())
    assert not any(p.requires_grad for p in method.teacher.parameters())
    assert not any(n.startswith("teacher.") for n, p in method.named_parameters() if p.requires_grad)
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.5)
    method(karate_batch)["loss"].backward()
    optimizer.step()
    student = method.encoder.convs[0].lin.weight
    target = method.teacher.encoder.convs[0].lin.weight
    old_target = target.detach().clone()
    method.on_step_end(0.0)  # momentum 0.5: the target moves half-way to the encoder
    torch.testing.assert_close(target, 0.5 * old_target + 0.5 * student.detach())
    method.on_step_end(1.0)  # the cosine schedule ends at 1: the target stays
    assert method.teacher.momentum == 1.0


# ------------------------------------------------------------------------------------- CCA-SSG


def test_cca_ssg_loss_equals_a_direct_numpy_computation():
    torch.manual_seed(0)
    z1, z2 = torch.randn(40, 6, dtype=torch.float64), torch.randn(40, 6, dtype=torch.float64)
    terms = cca_ssg_terms(z1, z2, decorrelation_weight=0.3)

    def standardized(z):
        z = z.numpy()
        return (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5) / np.sqrt(len(z))

    a, b = standardized(z1), standardized(z2)
    invariance = np.sum((a - b) ** 2)
    decorrelation = np.sum((a.T @ a - np.eye(6)) ** 2) + np.sum((b.T @ b - np.eye(6)) ** 2)
    assert float(terms["invariance"]) == pytest.approx(invariance, rel=1e-9)
    assert float(terms["decorrelation"]) == pytest.approx(decorrelation, rel=1e-9)
    assert float(terms["loss"]) == pytest.approx(invariance + 0.3 * decorrelation, rel=1e-9)


def test_cca_ssg_terms_vanish_for_identical_whitened_views():
    torch.manual_seed(0)
    z = torch.randn(64, 4, dtype=torch.float64)
    z = z - z.mean(0)  # centred, then whitened: its correlation matrix is the identity
    z = z @ torch.linalg.inv(torch.linalg.cholesky(z.T @ z / 64)).T
    terms = cca_ssg_terms(z, z)
    assert float(terms["invariance"]) == 0
    assert float(terms["decorrelation"]) < 1e-6


def test_cca_ssg_method_loss_is_the_loss_of_its_two_views(karate_batch):
    torch.manual_seed(0)
    method = CCASSG(encoder(), GraphAugment(), decorrelation_weight=0.01)
    torch.manual_seed(3)
    views = method.views(karate_batch, 2)
    with torch.no_grad():
        expected = cca_ssg_terms(method.encoder(views[0]["x"]), method.encoder(views[1]["x"]), 0.01)
        torch.manual_seed(3)
        out = method(karate_batch)
    assert float(out["loss"]) == pytest.approx(float(expected["loss"]), rel=1e-5)
    assert not out["invariance"].requires_grad


# ------------------------------------------------------------------------------------ GraphMAE


def test_scaled_cosine_error_equals_the_formula():
    torch.manual_seed(0)
    x, z = torch.randn(9, 5, dtype=torch.float64), torch.randn(9, 5, dtype=torch.float64)
    xn, zn = x.numpy(), z.numpy()
    cosine = (xn * zn).sum(1) / np.linalg.norm(xn, axis=1) / np.linalg.norm(zn, axis=1)
    for gamma in (1, 2, 3):
        assert float(scaled_cosine_error(z, x, gamma)) == pytest.approx(np.mean((1 - cosine) ** gamma), rel=1e-9)
    assert float(scaled_cosine_error(3 * x, x)) == pytest.approx(0, abs=1e-12)


def test_graphmae_masks_every_node_at_the_rate_and_scores_only_the_batch_nodes():
    torch.manual_seed(0)
    method = GraphMAE(GNN(GraphSpec(8), conv="gat", hidden_dim=8, output_dim=8), IdentityViews(), mask_rate=0.5)
    g = Graphs(torch.randn(100, 8), torch.zeros(2, 0, dtype=torch.long), nodes=torch.arange(10))
    masked, scored = method.mask_nodes(g)
    assert len(masked) == 50 and len(set(masked.tolist())) == 50
    assert len(scored) == 5 and set(scored.tolist()) <= set(range(10)) and set(scored.tolist()) <= set(masked.tolist())
    one = g.with_(nodes=torch.tensor([3]))  # a batch of one node: it is always the one scored
    assert method.mask_nodes(one)[1].tolist() == [3]
    whole = Graphs(g.x, g.edge_index, batch=torch.zeros(100, dtype=torch.long), num_graphs=1)
    masked, scored = method.mask_nodes(whole)  # graph level: every masked node is scored
    assert len(masked) == 50 and torch.equal(masked, scored)


def test_graphmae_input_puts_the_mask_token_or_another_nodes_features_on_masked_nodes():
    torch.manual_seed(0)
    method = GraphMAE(GNN(GraphSpec(8), hidden_dim=8, output_dim=8), IdentityViews(), replace_rate=0.25)
    with torch.no_grad():
        method.mask_token.fill_(7.0)
    x = torch.randn(40, 8)
    masked = torch.arange(0, 40, 2)
    out = method.masked_input(x, masked)
    token_rows = (out == 7.0).all(1)
    assert int(token_rows.sum()) == 15 and not token_rows[1::2].any()  # 20 masked, 5 replaced
    torch.testing.assert_close(out[1::2], x[1::2])  # unmasked rows untouched
    replaced = masked[~token_rows[masked]]
    assert all(any(torch.equal(out[i], row) for row in x) for i in replaced)


def test_graphmae_remasks_the_decoder_input_and_its_loss_is_the_sce_of_the_scored_nodes(karate_batch):
    torch.manual_seed(0)
    method = GraphMAE(encoder("gat"), IdentityViews(), gamma=3.0, decoder="gcn")
    seen = {}
    method.decoder.register_forward_hook(lambda module, inputs, output: seen.update(h=inputs[0], z=output))
    masked, scored = method.mask_nodes(karate_batch["x"])
    method.mask_nodes = lambda g: (masked, scored)
    loss = method(karate_batch)["loss"]
    h = seen["h"].detach()
    assert h[masked].abs().sum() == 0 and (h.abs().sum(1) > 0).sum() == 34 - len(masked)
    x = karate_batch["x"].x[scored].numpy()
    z = seen["z"].detach()[scored].numpy()
    cosine = (x * z).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(z, axis=1)
    assert float(loss.detach()) == pytest.approx(np.mean((1 - cosine) ** 3), rel=1e-4)
    loss.backward()
    assert method.mask_token.grad is not None and method.mask_token.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------- the API


@pytest.mark.parametrize("name", METHODS)
def test_pretrain_runs_each_method_on_karate(name, tmp_path):
    out = tmp_path / "r"
    selfsup.pretrain(method=name, data="karate", epochs=2, batch_size=16, out=str(out), progress=False,
                     overrides=QUIET)
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["pretrained"]["linear_acc"] <= 1


def test_dgi_score_equals_the_bilinear_discriminator():
    """DGI scores with a matrix product (nn.Bilinear's backward is ~40x slower); same values."""
    from selfsup.modalities.graph.data.graphs import GraphSpec
    from selfsup.modalities.graph.encoders.gnn import GNN
    from selfsup.registry import METHODS
    from selfsup.views import IdentityViews

    method = METHODS.build("dgi", GNN(GraphSpec(5), output_dim=8), IdentityViews())
    h, summary = torch.randn(7, 8), torch.rand(8)
    expected = method.discriminator(h, summary.expand_as(h)).squeeze(-1)
    torch.testing.assert_close(method.score(h, summary), expected)

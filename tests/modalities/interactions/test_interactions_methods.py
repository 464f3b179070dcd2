"""Encoders (propagation, saved graph) and the methods' training steps."""

from __future__ import annotations

import pytest
import torch

from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.registry import ENCODERS, METHODS, VIEWS

METHOD_NAMES = ["bpr_mf", "lightgcn", "sgl", "simgcl", "xsimgcl", "ncl"]


@pytest.fixture(scope="module")
def source():
    return load_data("synthetic_interactions", users=120, items=60, interactions=1500)


def build(name, source, **kwargs):
    info = METHODS.info(name)
    torch.manual_seed(0)
    options = {"layers": 2, "keep_ego": False} if name in ("simgcl", "xsimgcl") else {}
    encoder = ENCODERS.build(info.default_encoder, source.input_spec, **options)
    method = METHODS.build(name, encoder, VIEWS.build("none", source.input_spec), **kwargs)
    method.prepare(source.n_train)
    return method


def batch(source, size=64):
    return source.collate(source.train.__getitems__(list(range(size))))


def test_lightgcn_propagation_is_the_dense_normalised_adjacency(source):
    encoder = ENCODERS.build("lightgcn", source.input_spec, layers=2)
    spec = source.input_spec
    n = spec.num_users + spec.num_items
    a = torch.zeros(n, n)
    a[spec.graph[0], spec.graph[1] + spec.num_users] = 1
    a = a + a.T
    d = a.sum(1).clamp(min=1).pow(-0.5)
    a_hat = d[:, None] * a * d[None, :]
    e0 = encoder.ego().detach()
    expected = (e0 + a_hat @ e0 + a_hat @ a_hat @ e0) / 3
    users, items = encoder.user_item_embeddings()
    assert torch.allclose(torch.cat([users, items]), expected, atol=1e-5)


def test_negatives_are_never_training_items_of_their_user(source):
    x = batch(source, 256)["x"]
    assert not source.collate.sampler.known(x.users, x.negatives).any()


def test_a_saved_lightgcn_keeps_its_graph(source):
    from selfsup.modalities.interactions.data.batch import InteractionSpec

    encoder = ENCODERS.build("lightgcn", source.input_spec)
    rebuilt = ENCODERS.build("lightgcn", InteractionSpec.from_dict(source.input_spec.to_dict()))
    rebuilt.load_state_dict(encoder.state_dict())
    assert torch.allclose(rebuilt.user_item_embeddings()[1], encoder.user_item_embeddings()[1])


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_each_method_trains_and_its_loss_reaches_the_embeddings(name, source):
    options = {"num_clusters": 5, "warmup_epochs": 0} if name == "ncl" else {}
    if name in ("sgl", "simgcl", "xsimgcl", "ncl"):
        options["ssl_warmup_steps"] = 0
    method = build(name, source, **options)
    optimizer = torch.optim.Adam(method.parameters(), lr=0.01)
    losses = []
    for _ in range(3):
        out = method(batch(source))
        optimizer.zero_grad()
        out["loss"].backward()
        assert method.encoder.users.weight.grad.abs().sum() > 0
        optimizer.step()
        losses.append(float(out["loss"]))
    assert all(torch.isfinite(torch.tensor(losses)))
    if name in ("sgl", "simgcl", "xsimgcl", "ncl"):
        assert any(key.startswith("ssl") for key in out)


def test_graph_methods_refuse_an_encoder_without_propagation(source):
    encoder = ENCODERS.build("mf", source.input_spec)
    with pytest.raises(SelfsupError, match="no propagation layer"):
        METHODS.build("simgcl", encoder, VIEWS.build("none", source.input_spec))


def test_ncl_refuses_more_clusters_than_users(source):
    encoder = ENCODERS.build("lightgcn", source.input_spec)
    with pytest.raises(SelfsupError, match="num_clusters=500"):
        METHODS.build("ncl", encoder, VIEWS.build("none", source.input_spec), num_clusters=500)


def test_propagation_backward_equals_the_dense_gradient(source):
    from selfsup.modalities.interactions.encoders.graph import propagate

    encoder = ENCODERS.build("lightgcn", source.input_spec)
    for adjacency in (encoder.graph.adjacency(), encoder.graph.edge_dropout(0.3)):
        h = torch.randn(adjacency.shape[0], 8, requires_grad=True)
        weights = torch.randn(adjacency.shape[0], 8)
        (grad,) = torch.autograd.grad((propagate(adjacency, propagate(adjacency, h)) * weights).sum(), h)
        dense = adjacency.to_dense()
        (expected,) = torch.autograd.grad((dense @ (dense @ h) * weights).sum(), h)
        assert torch.allclose(grad, expected, atol=1e-5)


def test_ncl_with_more_clusters_than_items_is_one_error_naming_the_key_and_counts(tmp_path):
    from typer.testing import CliRunner

    from selfsup.cli import app

    args = ["pretrain", "--data", "synthetic_interactions", "--method", "ncl", "--epochs", "1", "--out",
            str(tmp_path / "run"), "--no-progress", "--set", "data.options.users=200", "--set", "data.options.items=80",
            "--set", "data.options.interactions=3000", "--set", "method.num_clusters=100"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert "method.num_clusters=100" in result.output and "200 users and 80 items" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run" / "metrics.json").exists()

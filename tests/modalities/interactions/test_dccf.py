"""DCCF (Ren et al. 2023): the encoder's intent and adaptive views and the contrast, each against a
dense or explicit-loop formulation of the paper's equations; a run through selfsup.pretrain."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

import selfsup
from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.interactions.encoders.dccf import (
    edge_agreement,
    intent_aggregation,
    weighted_propagation,
)
from selfsup.modalities.interactions.methods.dccf import dccf_contrast
from selfsup.registry import ENCODERS, METHODS, VIEWS


@pytest.fixture(scope="module")
def source():
    return load_data("synthetic_interactions", users=60, items=30, interactions=600)


def dense_adjacency(spec):
    n = spec.num_users + spec.num_items
    a = torch.zeros(n, n, dtype=torch.float64)
    a[spec.graph[0], spec.graph[1] + spec.num_users] = 1
    return a + a.T


def test_intent_aggregation_is_the_attention_weighted_sum_of_prototypes():
    torch.manual_seed(0)
    h, intents = torch.randn(5, 8, dtype=torch.float64), torch.randn(8, 4, dtype=torch.float64)
    expected = torch.zeros(5, 8, dtype=torch.float64)
    for n in range(5):
        logits = [float(h[n] @ intents[:, k]) for k in range(4)]
        norm = sum(math.exp(v) for v in logits)
        for k in range(4):
            expected[n] += math.exp(logits[k]) / norm * intents[:, k]
    assert torch.allclose(intent_aggregation(h, intents), expected)


def test_adaptive_propagation_is_the_row_normalised_agreement_matrix(source):
    spec = source.input_spec
    encoder = ENCODERS.build("dccf", spec, embedding_dim=8, num_intents=4)
    graph = encoder.graph
    torch.manual_seed(1)
    view, h = torch.randn(2, graph.num_nodes, 8).unbind(0)
    # dense: alpha_ij = (cos(view_i, view_j) + 1) / 2 on the edges of A, each row divided by its sum
    cosine = F.normalize(view, dim=1) @ F.normalize(view, dim=1).T
    alpha = dense_adjacency(spec).float() * (cosine + 1) / 2
    expected = (alpha / alpha.sum(1, keepdim=True).clamp(min=1e-12)) @ h
    pattern = graph.adjacency()
    weights = edge_agreement(view, pattern)
    assert torch.allclose(weighted_propagation(h, pattern, weights), expected, atol=1e-5)
    # the gradient reaches the view through the weights as it does through the dense formulation
    view.requires_grad_(True)
    (grad,) = torch.autograd.grad(weighted_propagation(h, pattern, edge_agreement(view, pattern)).pow(2).sum(), view)
    dense = dense_adjacency(spec).float()
    unit = F.normalize(view, dim=1)
    alpha = dense * (unit @ unit.T + 1) / 2
    (expected_grad,) = torch.autograd.grad((alpha / alpha.sum(1, keepdim=True)) @ h, view, grad_outputs=2 * expected)
    assert torch.allclose(grad, expected_grad, atol=1e-4)
    # ... and reaches the propagated embeddings through the transpose of the row-normalised matrix
    h.requires_grad_(True)
    (grad_h,) = torch.autograd.grad(weighted_propagation(h, pattern, weights.detach()).pow(2).sum(), h)
    fixed = (alpha / alpha.sum(1, keepdim=True)).detach()
    assert torch.allclose(grad_h, 2 * fixed.T @ (fixed @ h.detach()), atol=1e-4)


def test_a_dccf_layer_sums_its_four_views_and_the_residual(source):
    spec = source.input_spec
    torch.manual_seed(0)
    encoder = ENCODERS.build("dccf", spec, embedding_dim=8, layers=2, num_intents=4)
    a = dense_adjacency(spec).float()
    d = a.sum(1).clamp(min=1).pow(-0.5)
    a_hat = d[:, None] * a * d[None, :]
    with torch.no_grad():
        layers, views = encoder.propagate_views()
    e = encoder.ego().detach()
    for layer, v in enumerate(views):
        assert torch.allclose(v.graph, a_hat @ e, atol=1e-5)
        users, items = e[: spec.num_users], e[spec.num_users:]
        intent = torch.cat([torch.softmax(users @ encoder.user_intents, 1) @ encoder.user_intents.T,
                            torch.softmax(items @ encoder.item_intents, 1) @ encoder.item_intents.T])
        assert torch.allclose(v.intent, intent, atol=1e-5)
        e = v.graph + v.intent + v.graph_adaptive + v.intent_adaptive + e
        assert torch.allclose(layers[layer + 1], e)
    users, items = encoder.user_item_embeddings()
    assert torch.allclose(torch.cat([users, items]), sum(layers), atol=1e-5)


def test_dccf_contrast_equals_the_cross_entropy_formulation():
    torch.manual_seed(0)
    from selfsup.modalities.interactions.encoders.dccf import IntentViews

    views = [IntentViews(*torch.randn(4, 20, 6).unbind(0)) for _ in range(2)]
    user_rows, item_rows = torch.tensor([0, 3, 5, 7]), torch.tensor([10, 12, 19])
    tau = 0.5
    expected = 0.0
    for v in views:
        for rows in (user_rows, item_rows):
            anchor = F.normalize(v.graph[rows], dim=1)
            for other in (v.intent, v.graph_adaptive, v.intent_adaptive):
                logits = anchor @ F.normalize(other[rows], dim=1).T / tau
                expected += F.cross_entropy(logits, torch.arange(len(rows)))
    assert torch.allclose(dccf_contrast(views, user_rows, item_rows, tau), expected, atol=1e-6)


def test_dccf_trains_every_parameter_and_its_intents(source):
    torch.manual_seed(0)
    encoder = ENCODERS.build("dccf", source.input_spec, num_intents=8)
    method = METHODS.build("dccf", encoder, VIEWS.build("none", source.input_spec), ssl_warmup_steps=0)
    method.prepare(source.n_train)
    out = method(source.collate(source.train.__getitems__(list(range(64)))))
    assert {"bpr", "reg", "intent_reg", "ssl"} <= set(out)
    out["loss"].backward()
    for parameter in (encoder.users.weight, encoder.items.weight, encoder.user_intents, encoder.item_intents):
        assert parameter.grad.abs().sum() > 0


def test_dccf_refuses_an_encoder_without_intents(source):
    encoder = ENCODERS.build("lightgcn", source.input_spec)
    with pytest.raises(SelfsupError, match="--encoder dccf"):
        METHODS.build("dccf", encoder, VIEWS.build("none", source.input_spec))


def test_dccf_runs_through_pretrain_and_its_saved_encoder_keeps_the_intents(tmp_path):
    out = tmp_path / "run"
    result = selfsup.pretrain(method="dccf", data="synthetic_interactions", epochs=1, batch_size=256, out=str(out),
                              progress=False, overrides=["data.options.users=100", "data.options.items=40",
                                                         "data.options.interactions=1200", "eval.every_n_epochs=0",
                                                         "encoder.name=dccf", "encoder.num_intents=8", "method.ssl_warmup_steps=0"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["recommendation"]["test"]["pretrained"]["recall@20"] <= 1.0
    loaded = selfsup.load(out)
    assert torch.allclose(loaded.user_intents, result.encoder.user_intents)
    assert torch.allclose(loaded.user_item_embeddings()[1], result.encoder.user_item_embeddings()[1], atol=1e-5)

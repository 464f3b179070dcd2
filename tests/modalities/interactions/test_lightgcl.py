"""LightGCL (Cai et al. 2023): the truncated SVD, the SVD view and the contrast against dense and
explicit-loop formulations; a run through selfsup.pretrain."""

from __future__ import annotations

import json
import math

import pytest
import torch

import selfsup
from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.interactions.losses.lightgcl import svd_contrast
from selfsup.modalities.interactions.methods.lightgcl import truncated_svd
from selfsup.registry import ENCODERS, METHODS, VIEWS


@pytest.fixture(scope="module")
def source():
    return load_data("synthetic_interactions", users=60, items=30, interactions=600)


def build(source, **options):
    torch.manual_seed(0)
    encoder = ENCODERS.build("lightgcn", source.input_spec, layers=2, keep_ego=True)
    method = METHODS.build("lightgcl", encoder, VIEWS.build("none", source.input_spec), **options)
    method.prepare(source.n_train)
    return method


def normalised_interactions(spec):
    r = torch.zeros(spec.num_users, spec.num_items, dtype=torch.float64)
    r[spec.graph[0], spec.graph[1]] = 1
    return r / r.sum(1, keepdim=True).clamp(min=1).sqrt() / r.sum(0, keepdim=True).clamp(min=1).sqrt()


def test_svd_contrast_equals_the_explicit_loop():
    torch.manual_seed(0)
    anchors, positives = torch.randn(2, 4, 3, dtype=torch.float64).unbind(0)
    candidates = torch.randn(7, 3, dtype=torch.float64)
    tau = 0.2
    total = 0.0
    for a, p in zip(anchors, positives):
        positive = min(5.0, max(-5.0, float(a @ p) / tau))
        total += -positive + math.log(sum(math.exp(float(a @ c) / tau) for c in candidates))
    assert svd_contrast(anchors, positives, candidates, tau).item() == pytest.approx(total / 4)


def test_truncated_svd_finds_the_leading_singular_triplets(source):
    spec = source.input_spec
    u, s, _ = truncated_svd(spec.graph[0], spec.graph[1], spec.num_users, spec.num_items, rank=5)
    dense = normalised_interactions(spec)
    exact = torch.linalg.svdvals(dense)[:5]
    assert torch.allclose(s.double(), exact, rtol=0.01)
    # the largest singular value of D^-1/2 A D^-1/2 is 1
    assert s[0].item() == pytest.approx(1.0, abs=1e-3)
    again = truncated_svd(spec.graph[0], spec.graph[1], spec.num_users, spec.num_items, rank=5)
    assert torch.equal(again[0], u)  # seeded: a resumed run draws the same view


def test_svd_view_equals_the_dense_low_rank_propagation(source):
    spec = source.input_spec
    method = build(source)
    layers = method.encoder.propagate()
    reconstructed = (method.svd_u * method.svd_users.norm(dim=0) / method.svd_u.norm(dim=0)) @ method.svd_v.T
    low_rank = method.svd_users @ method.svd_v.T  # U S V^T
    assert torch.allclose(low_rank, reconstructed, atol=1e-5)
    n = spec.num_users
    expected_users = layers[0][:n] + sum(low_rank @ e[n:] for e in layers[:-1])
    expected_items = layers[0][n:] + sum(low_rank.T @ e[:n] for e in layers[:-1])
    view_users, view_items = method.svd_view(layers)
    assert torch.allclose(view_users, expected_users, atol=1e-5)
    assert torch.allclose(view_items, expected_items, atol=1e-5)


def test_lightgcl_loss_is_bpr_plus_weighted_contrast_plus_l2_of_the_tables(source):
    method = build(source, ssl_weight=0.3, reg_weight=1e-3)
    batch = source.collate(source.train.__getitems__(list(range(32))))
    out = method(batch)
    tables = method.encoder.users.weight.pow(2).sum() + method.encoder.items.weight.pow(2).sum()
    assert out["reg"].item() == pytest.approx(1e-3 * tables.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx((out["bpr"] + out["ssl"] + out["reg"]).item(), rel=1e-5)
    method.eval()  # the contrast's view: the loss with ssl_weight 0 drops exactly that term
    plain = build(source, ssl_weight=0.0, reg_weight=1e-3)
    plain.eval()
    torch.manual_seed(3)
    with_ssl = method(batch)
    torch.manual_seed(3)
    without = plain(batch)
    assert with_ssl["bpr"].item() == pytest.approx(without["bpr"].item())


def test_lightgcl_refuses_an_encoder_without_e0_and_a_rank_beyond_the_catalogue(source):
    encoder = ENCODERS.build("lightgcn", source.input_spec, layers=2, keep_ego=False)
    with pytest.raises(SelfsupError, match="keep_ego"):
        METHODS.build("lightgcl", encoder, VIEWS.build("none", source.input_spec))
    encoder = ENCODERS.build("lightgcn", source.input_spec)
    with pytest.raises(SelfsupError, match="rank=500"):
        METHODS.build("lightgcl", encoder, VIEWS.build("none", source.input_spec), rank=500)


def test_lightgcl_runs_through_pretrain(tmp_path):
    out = tmp_path / "run"
    selfsup.pretrain(method="lightgcl", data="synthetic_interactions", epochs=1, batch_size=256, out=str(out),
                     progress=False, overrides=["data.options.users=100", "data.options.items=40",
                                                "data.options.interactions=1200", "eval.every_n_epochs=0"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["recommendation"]["test"]["pretrained"]["recall@20"] <= 1.0
    assert json.loads((out / "encoder.json").read_text())["name"] == "lightgcn"

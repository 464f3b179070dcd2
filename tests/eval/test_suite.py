"""embed_tensor and evaluate_embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from selfsup.eval import embed_tensor, evaluate_embeddings


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(12, 8), nn.BatchNorm1d(8), nn.Dropout(0.5)
        )
        self.frozen_norm = nn.BatchNorm1d(8)

    def forward(self, x):
        return self.frozen_norm(self.body(x))


def test_embed_tensor_is_batched_gradient_free_and_restores_modes():
    encoder = Encoder()
    encoder.train()
    encoder.frozen_norm.eval()  # a caller's deliberate choice that must survive embedding
    x = torch.randn(10, 3, 4)
    emb = embed_tensor(encoder, x, batch_size=3)
    assert emb.shape == (10, 8) and not emb.requires_grad
    assert encoder.training and encoder.body.training and not encoder.frozen_norm.training
    encoder.eval()
    torch.testing.assert_close(emb, encoder(x))  # eval mode: no dropout, running BN stats


def test_embed_tensor_rejects_unpooled_outputs():
    with pytest.raises(TypeError, match=r"\[B, D\]"):
        embed_tensor(nn.Identity(), torch.randn(4, 3, 2))


def test_evaluate_embeddings_returns_all_keys_with_labels_and_views():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(60, 6)), rng.normal(size=(30, 6))
    train_y, test_y = rng.integers(0, 3, 60), rng.integers(0, 3, 30)
    views = (test, test + 0.01 * rng.normal(size=test.shape))
    result = evaluate_embeddings(train, train_y, test, test_y, k=5, views_emb=views)
    assert set(result) == {"knn_acc", "linear_acc", "linear_f1", "rankme", "alpha_req", "emb_std",
                           "collapse_ratio", "uniformity", "alignment"}
    assert all(isinstance(v, float) and np.isfinite(v) for v in result.values())


def test_evaluate_embeddings_without_labels_gives_only_label_free_keys():
    emb = np.random.default_rng(0).normal(size=(40, 5))
    result = evaluate_embeddings(emb, None, None, None)
    assert set(result) == {"rankme", "alpha_req", "emb_std", "collapse_ratio", "uniformity"}


def test_label_free_scores_use_the_given_subset_and_probes_every_sample():
    import torch

    from selfsup.eval import evaluate_embeddings, rankme

    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(60, 8, generator=g), torch.randn(40, 8, generator=g)
    y_train, y_test = torch.arange(60) % 2, torch.arange(40) % 2
    full = evaluate_embeddings(train, y_train, test, y_test, k=5)
    part = evaluate_embeddings(train, y_train, test, y_test, k=5, label_free_emb=test[:10])
    assert part["knn_acc"] == full["knn_acc"] and part["linear_acc"] == full["linear_acc"]
    assert part["rankme"] == rankme(test[:10]) != full["rankme"]


def test_evaluation_caps_the_label_free_samples_of_a_large_held_out_split(monkeypatch):
    from selfsup.config import EvalConfig
    from selfsup.data import load_data
    from selfsup.engine import evaluation
    from selfsup.registry import ENCODERS, VIEWS

    source = load_data("digits")
    encoder = ENCODERS.build("small_cnn", source.input_spec)
    views = VIEWS.build("simclr", source.input_spec)
    full, emb = evaluation.evaluate_encoder(encoder, source, views, EvalConfig(), seed=0)
    monkeypatch.setattr(evaluation, "LABEL_FREE_MAX_SAMPLES", 100)
    capped, capped_emb = evaluation.evaluate_encoder(encoder, source, views, EvalConfig(), seed=0)
    assert capped_emb.shape == emb.shape == (360, encoder.output_dim)  # every sample embedded
    assert capped["knn_acc"] == full["knn_acc"] and capped["linear_acc"] == full["linear_acc"]
    assert capped["rankme"] != full["rankme"] and 0.0 <= capped["alignment"]


def test_probes_fit_on_a_capped_subset_that_keeps_the_protocols_samples():
    from selfsup.config import EvalConfig
    from selfsup.data import load_data
    from selfsup.engine import evaluation
    from selfsup.registry import ENCODERS

    source = load_data("sbm_citation")  # 1,708 training nodes; Planetoid names 140 + 500 of them
    subset, y, protocol = evaluation.probe_train_split(source, cap=300, seed=0)
    ids = torch.as_tensor([int(i) for i in subset.indices])
    assert 640 <= len(subset) <= 940 and torch.equal(y, source.y_train[ids])
    # the remapped positions name the same training nodes as before
    assert torch.equal(ids[protocol.train], torch.as_tensor(source.protocol.train))
    assert torch.equal(ids[protocol.val], torch.as_tensor(source.protocol.val))
    assert evaluation.probe_train_split(source, cap=5000, seed=0)[0] is source.train

    encoder = ENCODERS.build("gcn", source.input_spec)
    full, _ = evaluation.evaluate_encoder(encoder, source, None, EvalConfig(), seed=0)
    capped, _ = evaluation.evaluate_encoder(encoder, source, None, EvalConfig(max_train_samples=300), seed=0)
    assert capped["planetoid_acc"] == pytest.approx(full["planetoid_acc"])  # same 140 nodes, same C
    assert capped["linear_acc"] != full["linear_acc"]


def test_a_protocol_the_data_is_too_small_for_is_skipped_with_a_warning():
    from selfsup.engine import evaluation
    from selfsup.eval.protocols import ProbeProtocol
    from selfsup.modalities.graph.data.source import graph_source

    ring = np.array([[0, 1, 2, 1, 2, 0], [1, 2, 0, 0, 1, 2]])
    x = np.ones((3 * 12, 2), dtype=np.float32)
    edges = np.concatenate([ring + 3 * g for g in range(12)], axis=1)
    y = np.array([0] * 11 + [1])  # one graph of class 1: no 2-fold cross-validation
    source = graph_source("rings", x, edges, np.repeat(np.arange(12), 3), y, test_fraction=0.25)
    assert source.protocol == ProbeProtocol("svm_cv")
    emb = torch.randn(len(source.train), 4)
    with pytest.warns(UserWarning, match="protocol was skipped: Cross-validation needs 2"):
        scores = evaluation._protocol_scores(source.protocol, emb, source.y_train, torch.randn(len(source.test), 4),
                                             source)
    assert scores == {}

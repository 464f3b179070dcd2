"""SwAV, SeLa and DeepCluster-v2 on a tiny MLP encoder with noise views and no labels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _tiny import NoiseViews, TinyEncoder, assert_logs_are_detached_scalars

from selfsup.methods.deepcluster_v2 import DeepClusterV2
from selfsup.methods.sela import SeLa
from selfsup.methods.swav import SwAV

N = 32  # data set size given to prepare()
SMALL = {
    SwAV: {"projector_hidden_dim": 32, "projector_dim": 8, "num_prototypes": 6},
    SeLa: {"num_clusters": 4, "num_label_updates": 4},
    DeepClusterV2: {"projector_hidden_dim": 32, "projector_dim": 8, "num_prototypes": (4, 3)},
}


DATA = torch.randn(N, 10, generator=torch.Generator().manual_seed(0))


def _batch(index: torch.Tensor) -> dict[str, torch.Tensor]:
    # No "y": a method that reads labels fails with a KeyError.
    return {"x": DATA[index], "index": index}


def _build(cls, **overrides):
    torch.manual_seed(0)
    method = cls(TinyEncoder(), NoiseViews(), **{**SMALL[cls], **overrides})
    method.prepare(N)
    return method


def _one_epoch(method, progress: float = 0.5) -> None:
    """Two batches covering the data set, as the engine would run them."""
    for index in torch.arange(N).split(N // 2):
        method(_batch(index))["loss"].backward()
        method.on_step_end(progress)


@pytest.fixture(params=[SwAV, SeLa, DeepClusterV2], ids=lambda c: c.__name__)
def trained_method(request):
    method = _build(request.param)
    _one_epoch(method)  # DeepCluster-v2 has targets only after its first clustering
    method.zero_grad()
    return method


def test_forward_returns_a_finite_scalar_loss_and_detached_logs_without_labels(trained_method):
    out = trained_method(_batch(torch.arange(16)))
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"]) and out["loss"] > 0
    assert_logs_are_detached_scalars(out)


def test_backward_reaches_the_encoder(trained_method):
    trained_method(_batch(torch.arange(16)))["loss"].backward()
    for p in trained_method.encoder.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_embed_uses_the_encoder_output_dim(trained_method):
    assert trained_method.eval().embed(_batch(torch.arange(5))).shape == (5, 12)


def test_methods_are_registered_as_clustering_with_a_paper():
    from selfsup.registry import METHODS

    for name, cls in {"swav": SwAV, "sela": SeLa, "deepcluster_v2": DeepClusterV2}.items():
        entry = METHODS.entry(name)
        assert entry.factory is cls
        assert entry.info.family == "clustering" and entry.info.paper


@pytest.mark.parametrize("cls,bad", [
    (SwAV, {"temperature": 0.0}), (SwAV, {"num_global_views": 1, "num_local_views": 0}),
    (SwAV, {"freeze_prototypes": 1.5}), (SwAV, {"queue_length": -1}),
    (SeLa, {"num_clusters": 1}), (SeLa, {"lam": -1.0}), (SeLa, {"num_label_updates": 0}),
    (DeepClusterV2, {"num_prototypes": ()}), (DeepClusterV2, {"num_prototypes": (4, 0)}),
])
def test_bad_hyper_parameters_are_rejected(cls, bad):
    with pytest.raises(ValueError):
        cls(TinyEncoder(), NoiseViews(), **{**SMALL[cls], **bad})


# ------------------------------------------------------------------------------------ SwAV


def test_swav_asks_for_global_plus_local_views_and_codes_only_the_global_ones(monkeypatch):
    method = _build(SwAV, num_global_views=2, num_local_views=3)
    coded_views = []
    original = method._codes
    monkeypatch.setattr(method, "_codes", lambda scores, view: coded_views.append(view) or original(scores, view))
    method(_batch(torch.arange(8)))
    assert method.views.requested == [5]
    assert coded_views == [0, 1]


def test_swav_prototypes_are_normalised_and_frozen_early_in_training():
    method = _build(SwAV, freeze_prototypes=0.1)
    with torch.no_grad():
        method.prototypes.weight.mul_(3.0)
    method(_batch(torch.arange(16)))["loss"].backward()
    torch.testing.assert_close(method.prototypes.weight.norm(dim=1), torch.ones(6))
    assert torch.equal(method.prototypes.weight.grad, torch.zeros_like(method.prototypes.weight))

    method.zero_grad()
    method.on_step_end(0.2)  # past the frozen fraction
    method(_batch(torch.arange(16)))["loss"].backward()
    assert method.prototypes.weight.grad.abs().sum() > 0


def test_swav_queue_fills_after_its_start_and_then_joins_the_sinkhorn_problem(monkeypatch):
    from selfsup.methods import swav

    method = _build(SwAV, queue_length=16, queue_start=0.5)
    method.on_step_end(0.4)
    method(_batch(torch.arange(16)))
    assert all(len(q) == 0 for q in method.queues)  # before queue_start

    rows_seen = []
    real_sinkhorn = swav.sinkhorn
    monkeypatch.setattr(swav, "sinkhorn", lambda s, *a, **k: rows_seen.append(s.shape[0]) or real_sinkhorn(s, *a, **k))
    method.on_step_end(0.6)
    method(_batch(torch.arange(16)))  # fills the queue (16 rows), codes from the batch alone
    assert all(len(q) == 16 for q in method.queues)
    method(_batch(torch.arange(16, 32)))  # the full queue joins: 16 queued + 16 batch rows
    assert rows_seen == [16, 16, 32, 32]
    torch.testing.assert_close(method.queues[0].values().norm(dim=1), torch.ones(16))


def test_swav_codes_equal_partition_of_the_batch():
    method = _build(SwAV, num_prototypes=4, sinkhorn_iterations=100)
    scores = torch.randn(16, 4)
    codes = method._codes(scores, 0)
    torch.testing.assert_close(codes.sum(dim=0), torch.full((4,), 4.0), rtol=1e-3, atol=1e-3)


# ------------------------------------------------------------------------------------ SeLa


def test_sela_needs_prepare_and_sample_indices():
    method = SeLa(TinyEncoder(), NoiseViews(), **SMALL[SeLa])
    with pytest.raises(RuntimeError, match="prepare"):
        method(_batch(torch.arange(4)))
    method.prepare(N)
    with pytest.raises(KeyError, match="index"):
        method({"x": DATA[:4]})


def test_sela_starts_from_a_random_equipartition_and_fills_its_bank_from_training_passes():
    method = _build(SeLa)
    assert torch.bincount(method.labels[0], minlength=4).tolist() == [N // 4] * 4
    index = torch.tensor([3, 7, 11])
    method(_batch(index))
    assert method.seen.nonzero().squeeze(1).tolist() == [3, 7, 11]
    with torch.no_grad():
        expected_features = method.encoder(DATA[index])  # NoiseViews: close, not equal
    assert torch.allclose(method.features[index], expected_features, atol=0.5)
    assert method.features[0].abs().sum() == 0


def test_sela_relabels_the_whole_data_set_at_scheduled_points_once_the_bank_is_full():
    method = _build(SeLa, num_label_updates=4)  # points at progress 0, 1/16, 1/4, 9/16
    initial = method.labels.clone()
    method(_batch(torch.arange(16)))
    method.on_step_end(0.3)  # three points are due, but half the data set was never seen
    assert torch.equal(method.labels, initial) and int(method.label_updates_done) == 0

    method(_batch(torch.arange(16, 32)))
    method.on_step_end(0.3)  # bank full: one solve covers the three points passed
    assert int(method.label_updates_done) == 3
    assert torch.bincount(method.labels[0], minlength=4).tolist() == [N // 4] * 4
    with torch.no_grad():
        log_probs = F.log_softmax(method.heads[0](method.features), dim=1)
    chosen = log_probs[torch.arange(N), method.labels[0]]
    assert chosen.mean() > log_probs.mean()  # labels follow the head's probabilities

    labels = method.labels.clone()
    method.on_step_end(0.4)  # no new point passed
    assert torch.equal(method.labels, labels)
    method.on_step_end(0.6)
    assert int(method.label_updates_done) == 4


def test_sela_trains_every_head_on_its_own_labels():
    method = _build(SeLa, num_heads=3)
    assert method.labels.shape == (3, N)
    assert not torch.equal(method.labels[0], method.labels[1])
    method(_batch(torch.arange(16)))["loss"].backward()
    assert all(head.weight.grad.abs().sum() > 0 for head in method.heads)


def test_sela_bank_and_labels_are_checkpointed():
    method = _build(SeLa)
    _one_epoch(method, progress=0.3)
    state = method.state_dict()
    for key in ("features", "seen", "labels", "samples_seen", "label_updates_done"):
        assert key in state
    restored = SeLa(TinyEncoder(), NoiseViews(), **SMALL[SeLa])
    restored.prepare(N)
    restored.load_state_dict(state)
    assert torch.equal(restored.labels, method.labels)
    assert torch.equal(restored.features, method.features)


# --------------------------------------------------------------------------- DeepCluster-v2


def test_deepcluster_has_no_targets_and_a_zero_loss_before_its_first_clustering():
    method = _build(DeepClusterV2)
    out = method(_batch(torch.arange(16)))
    assert float(out["loss"].detach()) == 0.0 and out["loss"].requires_grad
    assert (method.assignments == -1).all()


def test_deepcluster_reclusters_once_per_epoch_counted_in_samples():
    method = _build(DeepClusterV2)
    method(_batch(torch.arange(16)))
    method.on_step_end(0.1)
    assert int(method.clusterings_done) == 0  # 16 of 32 samples seen
    method(_batch(torch.arange(16, 32)))
    method.on_step_end(0.1)
    assert int(method.clusterings_done) == 1 and int(method.samples_seen) == 0
    assert (method.assignments >= 0).all()
    for index in (torch.arange(16), torch.arange(8, 24)):
        method(_batch(index))
        method.on_step_end(0.2)
    assert int(method.clusterings_done) == 2


def test_deepcluster_targets_are_the_nearest_fixed_centroids_of_the_bank():
    method = _build(DeepClusterV2)
    _one_epoch(method)
    centroids = method.centroids.split(method.num_prototypes)
    for h, k in enumerate(method.num_prototypes):
        assert centroids[h].shape == (k, 8)
        torch.testing.assert_close(centroids[h].norm(dim=1), torch.ones(k))
        features = method.bank[h % 2]  # head h clusters global view h mod 2
        torch.testing.assert_close(features.norm(dim=1), torch.ones(N))
        similarity = features @ centroids[h].T
        assigned = similarity[torch.arange(N), method.assignments[h]]
        torch.testing.assert_close(assigned, similarity.max(dim=1).values)
    # The centroids are buffers: no optimiser moves them.
    assert "centroids" not in dict(method.named_parameters())


def test_deepcluster_bank_is_checkpointed():
    method = _build(DeepClusterV2)
    _one_epoch(method)
    state = method.state_dict()
    for key in ("bank", "filled", "assignments", "centroids", "samples_seen", "clusterings_done"):
        assert key in state
    restored = DeepClusterV2(TinyEncoder(), NoiseViews(), **SMALL[DeepClusterV2])
    restored.prepare(N)
    restored.load_state_dict(state)
    assert torch.equal(restored.bank, method.bank)
    assert torch.equal(restored.assignments, method.assignments)

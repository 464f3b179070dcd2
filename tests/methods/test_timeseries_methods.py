"""TS2Vec, TS-TCC and CPC: losses against loop formulations, and the methods on a tiny encoder.

The encoder and view makers are defined here (not the library's time-series ones), so these
tests only rely on the sequence contract: ``sequence_dim`` and
``forward_sequence(x [B, T, C], mask=None) -> [B, T', D]``.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.losses.cpc import future_infonce
from selfsup.modalities.timeseries.losses.ts2vec import (
    hierarchical_contrastive_loss,
    instance_contrastive_loss,
    temporal_contrastive_loss,
)
from selfsup.modalities.timeseries.methods.cpc import CPC
from selfsup.modalities.timeseries.methods.ts2vec import TS2Vec
from selfsup.modalities.timeseries.methods.tstcc import TSTCC
from selfsup.views.base import IdentityViews, ViewMaker


class TinySequenceEncoder(nn.Module):
    """Input projection, timestamp masking, one Conv1d: ``[B, T, C] -> [B, T // stride, D]``."""

    def __init__(self, channels: int = 2, dim: int = 8, stride: int = 1) -> None:
        super().__init__()
        self.input_projection = nn.Linear(channels, 6)
        self.conv = nn.Conv1d(6, dim, kernel_size=3, padding=1, stride=stride)
        self.output_dim = self.sequence_dim = dim
        self.masks: list[torch.Tensor | None] = []

    def forward_sequence(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self.masks.append(mask)
        h = self.input_projection(x)
        if mask is not None:
            h = h.masked_fill(mask.unsqueeze(-1), 0.0)
        return self.conv(h.transpose(1, 2)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_sequence(x).amax(dim=1)


class TinyCrops(nn.Module):
    """Two fixed overlapping crops of a [B, 16, C] batch: [0, 10) and [4, 14); shared [4, 10)."""

    def forward(self, batch: dict, n: int = 2) -> list[dict]:
        x = batch["x"]
        return [
            {**batch, "x": x[:, 0:10], "overlap": 6, "overlap_start": 4},
            {**batch, "x": x[:, 4:14], "overlap": 6, "overlap_start": 0},
        ][:n]


class WeakStrong(ViewMaker):
    """Even views: scaling + small jitter; odd views: time reversal + larger jitter."""

    def augment(self, x: torch.Tensor, i: int) -> torch.Tensor:
        if i % 2 == 0:
            return 1.1 * x + 0.01 * torch.randn_like(x)
        return x.flip(1) + 0.1 * torch.randn_like(x)


def _batch(batch_size: int = 6, steps: int = 16, channels: int = 2) -> dict[str, torch.Tensor]:
    # No "y": a method that reads labels fails with a KeyError.
    return {"x": torch.randn(batch_size, steps, channels), "index": torch.arange(batch_size)}


def _ce(logits: list[torch.Tensor], positive: int) -> torch.Tensor:
    """-log softmax(logits)[positive] for one anchor, written out."""
    scores = torch.stack(logits)
    return -(scores[positive] - torch.logsumexp(scores, dim=0))


# ----------------------------------------------------------------------------------- losses


def _instance_loop(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    batch, steps, _ = r1.shape
    terms = []
    for t in range(steps):
        for anchor_view, other_view in ((r1, r2), (r2, r1)):
            for i in range(batch):
                anchor = anchor_view[i, t]
                # candidates: every sample of the other view, every *other* sample of this view
                logits = [anchor @ other_view[j, t] for j in range(batch)]
                logits += [anchor @ anchor_view[j, t] for j in range(batch) if j != i]
                terms.append(_ce(logits, positive=i))
    return torch.stack(terms).mean()


def _temporal_loop(r1: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    batch, steps, _ = r1.shape
    terms = []
    for i in range(batch):
        for anchor_view, other_view in ((r1, r2), (r2, r1)):
            for t in range(steps):
                anchor = anchor_view[i, t]
                logits = [anchor @ other_view[i, u] for u in range(steps)]
                logits += [anchor @ anchor_view[i, u] for u in range(steps) if u != t]
                terms.append(_ce(logits, positive=t))
    return torch.stack(terms).mean()


def _pool_by_two(r: torch.Tensor) -> torch.Tensor:
    batch, steps, dim = r.shape
    half = steps // 2
    return r[:, : 2 * half].reshape(batch, half, 2, dim).amax(dim=2)


def test_instance_contrastive_loss_equals_per_timestamp_cross_entropy_loop():
    torch.manual_seed(0)
    r1, r2 = torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    torch.testing.assert_close(instance_contrastive_loss(r1, r2), _instance_loop(r1, r2))


def test_temporal_contrastive_loss_equals_per_sample_cross_entropy_loop():
    torch.manual_seed(1)
    r1, r2 = torch.randn(3, 5, 4), torch.randn(3, 5, 4)
    torch.testing.assert_close(temporal_contrastive_loss(r1, r2), _temporal_loop(r1, r2))


def test_dual_losses_are_zero_without_negatives_and_low_for_matching_views():
    r = torch.randn(1, 4, 3)
    assert instance_contrastive_loss(r, torch.randn(1, 4, 3)) == 0  # B = 1: only the positive
    assert temporal_contrastive_loss(r[:, :1], torch.randn(1, 1, 3)) == 0  # T = 1
    spread = 5 * torch.eye(8)[:6].reshape(2, 3, 8)  # orthogonal latents, identical views
    assert instance_contrastive_loss(spread, spread) < 1e-3
    assert temporal_contrastive_loss(spread, spread) < 1e-3
    assert instance_contrastive_loss(spread, spread.flip(0)) > 10  # positives swapped


@pytest.mark.parametrize("steps,alpha,temporal_unit", [(13, 0.5, 0), (8, 0.3, 1), (5, 1.0, 0), (1, 0.5, 0)])
def test_hierarchical_loss_equals_hand_loop_over_max_pooled_scales(steps, alpha, temporal_unit):
    torch.manual_seed(2)
    r1, r2 = torch.randn(3, steps, 4), torch.randn(3, steps, 4)
    terms, a, b, scale = [], r1, r2, 0
    while True:
        term = alpha * _instance_loop(a, b)
        if a.shape[1] > 1 and scale >= temporal_unit:
            term = term + (1 - alpha) * _temporal_loop(a, b)
        terms.append(term)
        if a.shape[1] == 1:
            break
        a, b, scale = _pool_by_two(a), _pool_by_two(b), scale + 1
    # 13 -> 6 -> 3 -> 1: four scales; 8 -> 4 -> 2 -> 1: four; 5 -> 2 -> 1: three; 1: one.
    assert len(terms) == {13: 4, 8: 4, 5: 3, 1: 1}[steps]
    expected = torch.stack(terms).mean()
    actual = hierarchical_contrastive_loss(r1, r2, alpha=alpha, temporal_unit=temporal_unit)
    torch.testing.assert_close(actual, expected)


def test_future_infonce_equals_cross_entropy_per_sample_and_position():
    torch.manual_seed(3)
    pred, target = torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    terms = [
        _ce([pred[b, n] @ target[j, n] for j in range(4)], positive=b)
        for b in range(4) for n in range(3)
    ]
    torch.testing.assert_close(future_infonce(pred, target), torch.stack(terms).mean())


def test_losses_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\[B, T, D\]"):
        instance_contrastive_loss(torch.randn(2, 3, 4), torch.randn(2, 4, 4))
    with pytest.raises(ValueError, match="alpha"):
        hierarchical_contrastive_loss(torch.randn(2, 3, 4), torch.randn(2, 3, 4), alpha=1.5)
    with pytest.raises(ValueError):
        future_infonce(torch.randn(2, 3), torch.randn(2, 3))


# ---------------------------------------------------------------------------------- methods


def _ts2vec(**kw) -> TS2Vec:
    torch.manual_seed(0)
    return TS2Vec(TinySequenceEncoder(), TinyCrops(), **kw)


def _tstcc(**kw) -> TSTCC:
    torch.manual_seed(0)
    kw = {"prediction_steps": 4, "context_dim": 12, "context_depth": 1, "context_heads": 2,
          "context_mlp_dim": 16, **kw}
    return TSTCC(TinySequenceEncoder(), WeakStrong(), **kw)


def _cpc(**kw) -> CPC:
    torch.manual_seed(0)
    return CPC(TinySequenceEncoder(), IdentityViews(), **{"prediction_steps": 3, "context_dim": 10, **kw})


BUILDERS = {"ts2vec": _ts2vec, "tstcc": _tstcc, "cpc": _cpc}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_method_forward_backward_without_labels_reaches_every_parameter(name):
    method = BUILDERS[name]()
    out = method(_batch())
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    for key, value in out.items():
        assert isinstance(value, torch.Tensor) and value.dim() == 0, key
        assert key == "loss" or not value.requires_grad, f"logged {key!r} must be detached"
    out["loss"].backward()
    for pname, p in method.named_parameters():
        # every head is used in every step (DDP rejects unused parameters)
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", list(BUILDERS))
def test_method_embed_is_the_encoders_pooled_output(name):
    method = BUILDERS[name]().eval()
    batch = _batch()
    torch.testing.assert_close(method.embed(batch), method.encoder(batch["x"]))


def test_ts2vec_contrasts_the_shared_segment_of_the_two_crops():
    method = _ts2vec().eval()  # eval: no timestamp mask, so the loss is deterministic
    batch = _batch()
    x = batch["x"]
    r1 = method.encoder.forward_sequence(x[:, 0:10])[:, 4:10]
    r2 = method.encoder.forward_sequence(x[:, 4:14])[:, 0:6]
    out = method(batch)
    torch.testing.assert_close(out["loss"], hierarchical_contrastive_loss(r1, r2))
    assert out["overlap"] == 6


def test_ts2vec_passes_a_binomial_timestamp_mask_in_training_only():
    method = _ts2vec(mask_prob=0.5)
    method(_batch(batch_size=64))
    masks = method.encoder.masks
    assert len(masks) == 2
    for mask in masks:
        assert mask.dtype == torch.bool and mask.shape == (64, 10)
        assert 0.4 < mask.float().mean() < 0.6
    method.encoder.masks.clear()
    method.eval()(_batch())
    assert method.encoder.masks == [None, None]
    method = _ts2vec(mask_prob=0.0)
    method(_batch())
    assert method.encoder.masks == [None, None]


def test_ts2vec_without_overlap_keys_treats_the_views_as_aligned():
    torch.manual_seed(0)
    method = TS2Vec(TinySequenceEncoder(), IdentityViews()).eval()
    batch = _batch()
    r = method.encoder.forward_sequence(batch["x"])
    torch.testing.assert_close(method(batch)["loss"], hierarchical_contrastive_loss(r, r))


def test_ts2vec_refuses_an_encoder_without_one_latent_per_timestamp():
    torch.manual_seed(0)
    method = TS2Vec(TinySequenceEncoder(stride=2), TinyCrops())
    with pytest.raises(SelfsupError, match="one latent per timestamp"):
        method(_batch())


def test_tstcc_temporal_contrast_equals_infonce_loop_and_sees_only_its_window():
    method = _tstcc(dropout=0.0).eval()
    torch.manual_seed(4)
    z_context = torch.randn(5, 12, 8, requires_grad=True)
    z_future = torch.randn(5, 12, 8, requires_grad=True)
    t, steps = 3, method.prediction_steps
    loss, context = method.temporal_contrast(z_context, z_future, t=t)
    assert loss.dim() == 0 and context.shape == (5, 12)
    # independent loop: c_t from z_{<=t}, W_k c_t against z_{t+k} of every sample
    c = method.context(z_context[:, : t + 1])
    terms = [
        _ce([method.predictors[k - 1](c[b]) @ z_future[j, t + k] for j in range(5)], positive=b)
        for k in range(1, steps + 1) for b in range(5)
    ]
    torch.testing.assert_close(loss, torch.stack(terms).mean())
    loss.backward()
    # gradients reach z_{<=t} of the context view and z_{t+1..t+K} of the other view, nothing else
    assert (z_context.grad[:, : t + 1].abs().sum(dim=(0, 2)) > 0).all()
    assert z_context.grad[:, t + 1 :].abs().sum() == 0
    assert (z_future.grad[:, t + 1 : t + 1 + steps].abs().sum(dim=(0, 2)) > 0).all()
    assert z_future.grad[:, : t + 1].abs().sum() == 0
    assert z_future.grad[:, t + 1 + steps :].abs().sum() == 0


def test_tstcc_temporal_term_is_at_chance_when_the_other_views_latents_are_alike():
    # What augmentations far stronger than the data's spread do: if the future latents of the
    # other view no longer tell the samples apart, L_TC = log B whatever the context.
    method = _tstcc(dropout=0.0).eval()
    torch.manual_seed(5)
    z_context = torch.randn(5, 12, 8)
    z_future = torch.randn(1, 12, 8).expand(5, -1, -1)
    loss, _ = method.temporal_contrast(z_context, z_future, t=3)
    torch.testing.assert_close(loss, torch.tensor(math.log(5.0)))


def test_tstcc_loss_is_weighted_sum_of_temporal_and_contextual_terms():
    for weights in [(1.0, 0.7), (0.5, 2.0)]:
        method = _tstcc(temporal_weight=weights[0], contextual_weight=weights[1])
        out = method(_batch())
        expected = weights[0] * out["temporal"] + weights[1] * out["contextual"]
        torch.testing.assert_close(out["loss"].detach(), expected)
    assert _tstcc().temporal_weight == 1.0 and _tstcc().contextual_weight == 0.7


def test_tstcc_contextual_term_is_nt_xent_of_projected_contexts():
    from selfsup.losses.nt_xent import nt_xent

    method = _tstcc(dropout=0.0)
    calls = []
    original = method.temporal_contrast

    def spy(z_context, z_future, t=None):
        loss, context = original(z_context, z_future, t=2)
        calls.append(context)
        return loss, context

    method.temporal_contrast = spy
    out = method(_batch())
    context_strong, context_weak = calls  # strong context is computed first
    expected = nt_xent(method.projector(context_weak), method.projector(context_strong), 0.2)
    torch.testing.assert_close(out["contextual"], expected.detach())


def test_cpc_loss_equals_cross_entropy_written_per_sample_time_and_step():
    method = _cpc().eval()
    batch = _batch(batch_size=4, steps=7)
    z = method.encoder.forward_sequence(batch["x"])
    context, _ = method.autoregressive(z)
    batch_size, steps, _ = z.shape
    per_step = []
    for k in range(1, method.prediction_steps + 1):
        terms = []
        for t in range(steps - k):
            for b in range(batch_size):
                prediction = method.predictors[k - 1](context[b, t])
                terms.append(_ce([z[j, t + k] @ prediction for j in range(batch_size)], positive=b))
        per_step.append(torch.stack(terms).mean())
    torch.testing.assert_close(method(batch)["loss"], torch.stack(per_step).mean())


def test_cpc_context_is_causal():
    method = _cpc().eval()
    z = torch.randn(2, 9, 8)
    context, _ = method.autoregressive(z)
    z_changed = z.clone()
    z_changed[:, 5:] += 1.0
    changed, _ = method.autoregressive(z_changed)
    torch.testing.assert_close(context[:, :5], changed[:, :5])
    assert not torch.allclose(context[:, 5:], changed[:, 5:])


@pytest.mark.parametrize("name", ["tstcc", "cpc"])
def test_series_too_short_for_the_prediction_steps_is_a_clear_error(name):
    method = BUILDERS[name](prediction_steps=5)
    with pytest.raises(SelfsupError, match="prediction_steps=5"):
        method(_batch(steps=5))


@pytest.mark.parametrize("cls", [TS2Vec, TSTCC, CPC], ids=lambda c: c.__name__)
def test_methods_refuse_an_encoder_without_the_sequence_contract(cls):
    class Pooled(nn.Module):
        output_dim = 4

        def forward(self, x):
            return x.mean(1)

    with pytest.raises(SelfsupError, match="forward_sequence"):
        cls(Pooled(), IdentityViews())


@pytest.mark.parametrize(
    "build,kwargs",
    [
        (_ts2vec, {"alpha": 1.5}),
        (_ts2vec, {"mask_prob": 1.0}),
        (_ts2vec, {"temporal_unit": -1}),
        (_tstcc, {"prediction_steps": 0}),
        (_tstcc, {"temperature": 0.0}),
        (_tstcc, {"context_heads": 5}),
        (_tstcc, {"temporal_weight": 0.0, "contextual_weight": 0.0}),
        (_cpc, {"prediction_steps": 2.5}),
        (_cpc, {"context_dim": 0}),
    ],
)
def test_bad_hyper_parameters_are_rejected(build, kwargs):
    with pytest.raises(ValueError):
        build(**kwargs)


def test_timeseries_methods_are_registered_with_what_they_need():
    from selfsup.registry import METHODS

    expected = {
        "ts2vec": (TS2Vec, "dilated_cnn", "ts2vec_crops"),
        "tstcc": (TSTCC, "tstcc_cnn", "tstcc"),
        "cpc": (CPC, "causal_cnn", "none"),
    }
    for name, (cls, encoder, views) in expected.items():
        entry = METHODS.entry(name)
        assert entry.factory is cls
        assert entry.info.family == "contrastive" and entry.info.paper
        assert entry.info.modality == "timeseries"
        assert entry.info.default_encoder == encoder
        assert entry.info.default_views == views


def test_instance_loss_has_log_2b_minus_1_at_uninformative_latents():
    # All-zero latents: every candidate scores 0, so each anchor's loss is log(2B - 1).
    r = torch.zeros(5, 3, 4)
    torch.testing.assert_close(instance_contrastive_loss(r, r), torch.tensor(math.log(9.0)))
    torch.testing.assert_close(temporal_contrastive_loss(r, r), torch.tensor(math.log(5.0)))

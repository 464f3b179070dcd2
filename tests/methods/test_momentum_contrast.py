"""MoCo v2, MoCo v3 and NNCLR on a tiny MLP encoder with noise views: any modality, no labels."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from _tiny import (
    NoiseViews,
    ShiftViews,
    TinyEncoder,
    assert_logs_are_detached_scalars,
    unlabeled_batch,
)

from selfsup.losses.moco import moco_infonce
from selfsup.methods.moco_v2 import MoCoV2
from selfsup.methods.moco_v3 import MoCoV3
from selfsup.methods.nnclr import NNCLR
from selfsup.nn.ema import cosine_momentum
from selfsup.views.base import ViewMaker

SMALL = {
    MoCoV2: {"projector_hidden_dim": 32, "projector_dim": 8, "queue_size": 24},
    MoCoV3: {"projector_hidden_dim": 32, "projector_dim": 8, "predictor_hidden_dim": 32},
    NNCLR: {"projector_hidden_dim": 32, "projector_dim": 8, "predictor_hidden_dim": 32,
            "support_set_size": 24},
}
MOMENTUM = (MoCoV2, MoCoV3)


def _build(cls, views: ViewMaker | None = None, **overrides):
    torch.manual_seed(0)
    return cls(TinyEncoder(), views or NoiseViews(), **{**SMALL[cls], **overrides})


def _sgd_step(method) -> None:
    torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1).step()


@pytest.mark.parametrize("cls", list(SMALL), ids=lambda c: c.__name__)
def test_forward_returns_a_finite_scalar_loss_and_detached_logs(cls):
    method = _build(cls)
    for step in range(2):  # the second step runs with a non-empty queue / support set
        out = method(unlabeled_batch(seed=step))
        assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
        assert_logs_are_detached_scalars(out)


@pytest.mark.parametrize("cls", list(SMALL), ids=lambda c: c.__name__)
def test_backward_reaches_the_encoder_after_the_queue_is_updated(cls):
    method = _build(cls)
    method(unlabeled_batch(seed=0))
    # enqueue writes the buffer in place before this backward
    out = method(unlabeled_batch(seed=1))
    out["loss"].backward()
    for p in method.encoder.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize("cls", MOMENTUM, ids=lambda c: c.__name__)
def test_momentum_encoder_gets_no_gradient(cls):
    method = _build(cls)
    method(unlabeled_batch(seed=0))["loss"].backward()
    frozen = [*method.teacher.encoder.parameters(), *method.teacher.projector.parameters()]
    assert frozen and all(p.grad is None and not p.requires_grad for p in frozen)


@pytest.mark.parametrize("cls", MOMENTUM, ids=lambda c: c.__name__)
def test_momentum_follows_byol_cosine_schedule_and_the_ema_formula(cls):
    method = _build(cls)
    momentum_params = list(method.teacher.encoder.parameters()) + list(
        method.teacher.projector.parameters())
    before = [p.clone() for p in momentum_params]
    method(unlabeled_batch(seed=0))["loss"].backward()
    _sgd_step(method)
    method.on_step_end(0.25)
    m = cosine_momentum(0.25, 0.99)
    assert method.teacher.momentum == pytest.approx(m) and 0.99 < m < 1.0
    online = list(method.encoder.parameters()) + list(method.projector.parameters())
    for k, k0, q in zip(momentum_params, before, online):
        torch.testing.assert_close(k, m * k0 + (1 - m) * q)
    assert float(method(unlabeled_batch(seed=0))["momentum"]) == pytest.approx(m)


@pytest.mark.parametrize("cls", list(SMALL), ids=lambda c: c.__name__)
def test_embed_is_the_encoder_output(cls):
    method = _build(cls).eval()
    batch = unlabeled_batch(seed=0)
    torch.testing.assert_close(method.embed(batch), method.encoder(batch["x"]))


def test_moco_v2_enqueues_the_normalised_momentum_keys_of_view_2():
    method = _build(MoCoV2, ShiftViews())
    batch = unlabeled_batch(seed=0)
    method(batch)
    with torch.no_grad():
        keys = method.teacher.projector(method.teacher.encoder(batch["x"] + 0.1))
    torch.testing.assert_close(method.queue.values(), F.normalize(keys, dim=1))


def test_moco_v2_asymmetric_loss_is_infonce_of_view_1_against_the_queue():
    method = _build(MoCoV2, ShiftViews(), symmetric=False)
    method(unlabeled_batch(seed=0))  # fill the queue with 16 keys
    negatives = method.queue.values().clone()
    batch = unlabeled_batch(seed=1)
    loss = method(batch)["loss"]
    q1 = method.projector(method.encoder(batch["x"]))
    with torch.no_grad():
        k2 = method.teacher.projector(method.teacher.encoder(batch["x"] + 0.1))
    torch.testing.assert_close(loss, moco_infonce(q1, k2, negatives, temperature=0.2))


def test_queue_and_support_set_are_not_updated_in_eval_mode_and_are_checkpointed():
    for cls, name in ((MoCoV2, "queue"), (NNCLR, "support_set")):
        method = _build(cls).eval()
        with torch.no_grad():
            method(unlabeled_batch(seed=0))
        assert len(getattr(method, name)) == 0
        method.train()(unlabeled_batch(seed=0))
        assert len(getattr(method, name)) == 16
        assert {f"{name}.items", f"{name}.pointer", f"{name}.filled"} <= set(method.state_dict())


def test_nnclr_uses_the_cosine_nearest_neighbour_from_its_support_set():
    method = _build(NNCLR, ShiftViews())
    method(unlabeled_batch(seed=0))
    support = method.support_set.values().clone()
    batch = unlabeled_batch(seed=1)
    loss = method(batch)["loss"]
    z1 = method.projector(method.encoder(batch["x"]))
    z2 = method.projector(method.encoder(batch["x"] + 0.1))
    p1, p2 = method.predictor(z1), method.predictor(z2)

    def by_hand(z, p):  # eq. 2 with the neighbour found by an explicit search
        neighbours = torch.stack([support[F.cosine_similarity(row[None], support).argmax()]
                                  for row in z.detach()])
        logits = F.normalize(neighbours, dim=1) @ F.normalize(p, dim=1).T / 0.1
        return F.cross_entropy(logits, torch.arange(len(z)))

    torch.testing.assert_close(loss, 0.5 * (by_hand(z1, p2) + by_hand(z2, p1)))


@pytest.mark.parametrize("cls", (MoCoV2, NNCLR), ids=lambda c: c.__name__)
def test_prepare_warns_when_the_queue_covers_the_data_set(cls):
    method = _build(cls)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        method.prepare(num_samples=1437)  # 24 << 1437: no warning
    with pytest.warns(UserWarning, match="holds an older copy of every sample"):
        method.prepare(num_samples=20)


def test_library_queue_defaults_stay_well_below_the_digits_training_set():
    encoder = TinyEncoder()
    assert MoCoV2(encoder, NoiseViews()).queue.size <= 1437 // 2
    assert NNCLR(encoder, NoiseViews()).support_set.size <= 1437 // 2


@pytest.mark.parametrize(
    "cls, bad",
    [
        (MoCoV2, {"queue_size": 0}),
        (MoCoV2, {"temperature": 0.0}),
        (MoCoV2, {"momentum_base": 1.5}),
        (MoCoV2, {"symmetric": "yes"}),
        (MoCoV3, {"projector_layers": 0}),
        (MoCoV3, {"temperature": -1.0}),
        (NNCLR, {"support_set_size": 2.5}),
        (NNCLR, {"predictor_hidden_dim": 0}),
    ],
)
def test_bad_hyper_parameters_raise_value_error(cls, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        _build(cls, **bad)


def test_methods_are_registered_by_name_with_family_and_paper():
    from selfsup.registry import METHODS

    for name, cls in (("moco_v2", MoCoV2), ("moco_v3", MoCoV3), ("nnclr", NNCLR)):
        entry = METHODS.entry(name)
        assert entry.factory is cls
        assert entry.info.family == "contrastive" and entry.info.paper
    assert METHODS.info("moco_v3").view_style == "asymmetric"
    assert METHODS.info("nnclr").view_style == "asymmetric"

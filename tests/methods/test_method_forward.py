"""Every built-in method trains on any modality: tiny MLP encoder, noise views, no labels."""

from __future__ import annotations

import pytest
import torch
from _tiny import NoiseViews, TinyEncoder, assert_logs_are_detached_scalars, unlabeled_batch

from selfsup.methods import BYOL, BarlowTwins, Method, SimCLR, VICReg

SMALL_HEADS = {
    SimCLR: dict(projector_hidden_dim=32, projector_dim=8),
    BYOL: dict(projector_hidden_dim=32, projector_dim=8, predictor_hidden_dim=32),
    BarlowTwins: dict(projector_hidden_dim=32, projector_dim=16),
    VICReg: dict(projector_hidden_dim=32, projector_dim=16),
}


def _build(cls: type[Method]) -> Method:
    torch.manual_seed(0)
    return cls(TinyEncoder(), NoiseViews(), **SMALL_HEADS[cls])


@pytest.mark.parametrize("cls", list(SMALL_HEADS), ids=lambda c: c.__name__)
def test_method_forward_returns_finite_scalar_loss_without_labels(cls):
    out = _build(cls)(unlabeled_batch())
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    assert_logs_are_detached_scalars(out)


@pytest.mark.parametrize("cls", list(SMALL_HEADS), ids=lambda c: c.__name__)
def test_method_backward_reaches_the_encoder(cls):
    method = _build(cls)
    method(unlabeled_batch())["loss"].backward()
    for p in method.encoder.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize("cls", list(SMALL_HEADS), ids=lambda c: c.__name__)
def test_method_embed_uses_the_encoder_output_dim(cls):
    method = _build(cls).eval()
    assert method.embed(unlabeled_batch()).shape == (16, method.embed_dim)


def test_methods_log_their_terms():
    assert {"invariance", "variance", "covariance"} <= set(_build(VICReg)(unlabeled_batch()))
    assert {"on_diagonal", "off_diagonal"} <= set(_build(BarlowTwins)(unlabeled_batch()))
    assert "momentum" in _build(BYOL)(unlabeled_batch())


def test_methods_are_registered_by_name_with_family_and_paper():
    from selfsup.registry import METHODS

    expected = {
        "simclr": (SimCLR, "contrastive"),
        "byol": (BYOL, "self-distillation"),
        "barlow_twins": (BarlowTwins, "redundancy reduction"),
        "vicreg": (VICReg, "redundancy reduction"),
    }
    for name, (cls, family) in expected.items():
        entry = METHODS.entry(name)
        assert entry.factory is cls
        assert entry.info.family == family and entry.info.paper


def test_byol_teacher_gets_no_gradients_and_moves_after_step_end():
    method = _build(BYOL)
    teachers = [method.teacher.encoder, method.teacher.projector]
    teacher_params = [p for t in teachers for p in t.parameters()]
    before = [p.clone() for p in teacher_params]

    method(unlabeled_batch())["loss"].backward()
    assert all(p.grad is None and not p.requires_grad for p in teacher_params)

    student_params = [p for p in method.parameters() if p.requires_grad]
    torch.optim.SGD(student_params, lr=0.1).step()
    method.on_step_end(0.5)
    momentum = 1 - (1 - 0.99) * 0.5  # cosine schedule at half-way
    assert method.teacher.momentum == pytest.approx(momentum)
    online = list(method.encoder.parameters()) + list(method.projector.parameters())
    for t, t0, s in zip(teacher_params, before, online):
        torch.testing.assert_close(t, momentum * t0 + (1 - momentum) * s)
    assert any(not torch.equal(t, t0) for t, t0 in zip(teacher_params, before))


def test_byol_teacher_is_frozen_at_the_end_of_training():
    method = _build(BYOL)
    method(unlabeled_batch())["loss"].backward()
    torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1).step()
    before = [p.clone() for p in method.teacher.encoder.parameters()]
    method.on_step_end(1.0)
    assert method.teacher.momentum == pytest.approx(1.0)
    assert all(torch.equal(t, t0) for t, t0 in zip(method.teacher.encoder.parameters(), before))

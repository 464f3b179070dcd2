"""DINO on any modality (tiny MLP encoder, noise views, no labels), its teacher and schedules."""

from __future__ import annotations

import pytest
import torch
from _tiny import NoiseViews, TinyEncoder, assert_logs_are_detached_scalars, unlabeled_batch

from selfsup.losses.dino import dino_loss
from selfsup.methods.dino import DINO, DINOHead
from selfsup.registry import METHODS

SMALL = {"num_prototypes": 16, "head_hidden_dim": 32, "head_bottleneck_dim": 8}


def _build(**kwargs) -> DINO:
    torch.manual_seed(0)
    return DINO(TinyEncoder(), NoiseViews(), **{**SMALL, **kwargs})


def _step(method: DINO, progress: float) -> None:
    method(unlabeled_batch())["loss"].backward()
    torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1).step()
    method.zero_grad()
    method.on_step_end(progress)


def test_dino_forward_returns_a_finite_loss_and_detached_logs_without_labels():
    out = _build()(unlabeled_batch())
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    assert {"teacher_entropy", "teacher_marginal_entropy", "kl", "teacher_temperature",
            "momentum"} <= set(out)
    assert_logs_are_detached_scalars(out)
    assert 0.0 <= float(out["teacher_entropy"]) <= float(torch.log(torch.tensor(16.0))) + 1e-5


def test_dino_backward_reaches_the_encoder_and_not_the_teacher():
    method = _build()
    method(unlabeled_batch())["loss"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parameters())
    teacher = [*method.teacher.encoder.parameters(), *method.teacher.head.parameters()]
    assert all(p.grad is None and not p.requires_grad for p in teacher)


def test_dino_asks_for_global_plus_local_views_and_the_teacher_sees_only_the_global_ones():
    method = _build(num_global_views=2, num_local_views=3)
    calls = {"student": 0, "teacher": 0}
    for name, module in [("student", method.encoder), ("teacher", method.teacher.encoder)]:
        module.register_forward_hook(lambda *_, name=name: calls.__setitem__(name, calls[name] + 1))
    method(unlabeled_batch())
    assert method.views.requested == [5] and calls == {"student": 5, "teacher": 2}


def test_dino_loss_is_the_dino_loss_of_student_and_teacher_outputs():
    method = _build(num_local_views=2)
    batch = unlabeled_batch()
    torch.manual_seed(1)
    views = method.views(batch, 4)
    student = [method.head(method.encoder(v["x"])) for v in views]
    teacher = [method.teacher.head(method.teacher.encoder(v["x"])) for v in views[:2]]
    expected = dino_loss(student, teacher, torch.zeros(1, 16), 0.1, 0.04)
    torch.manual_seed(1)
    torch.testing.assert_close(method(batch)["loss"], expected)
    # the centre moved towards the teacher's batch mean
    expected_center = 0.1 * torch.cat(teacher).mean(0, keepdim=True)
    torch.testing.assert_close(method.criterion.center, expected_center)


def test_dino_teacher_temperature_and_momentum_follow_their_schedules():
    method = _build(
        teacher_temperature_start=0.04, teacher_temperature=0.07, teacher_warmup=0.3,
        momentum_base=0.996,
    )
    assert float(method(unlabeled_batch())["teacher_temperature"]) == pytest.approx(0.04)
    method.on_step_end(0.15)
    out = method(unlabeled_batch())
    assert float(out["teacher_temperature"]) == pytest.approx(0.055)
    assert float(out["momentum"]) == pytest.approx(1 - 0.004 * (1 + 0.8910065) / 2, abs=1e-6)
    method.on_step_end(0.3)
    assert float(method(unlabeled_batch())["teacher_temperature"]) == pytest.approx(0.07)
    method.on_step_end(1.0)
    assert method.teacher.momentum == pytest.approx(1.0)


def test_dino_schedules_survive_a_checkpoint_round_trip():
    method = _build()
    method.on_step_end(0.2)
    restored = _build()
    restored.load_state_dict(method.state_dict())
    a, b = method(unlabeled_batch()), restored(unlabeled_batch())
    assert float(b["teacher_temperature"]) == pytest.approx(float(a["teacher_temperature"]))


def test_dino_teacher_is_the_ema_of_the_student():
    method = _build(momentum_base=0.99)
    before = [p.clone() for p in method.teacher.encoder.parameters()]
    method(unlabeled_batch())["loss"].backward()
    torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1).step()
    method.on_step_end(0.5)
    m = 1 - 0.01 * 0.5
    for t, t0, s in zip(method.teacher.encoder.parameters(), before, method.encoder.parameters()):
        torch.testing.assert_close(t, m * t0 + (1 - m) * s)


def test_dino_freezes_the_last_layer_at_the_start_only():
    method = _build(freeze_last_layer=0.1)
    last = [p for p in method.head.last_layer.parameters() if p.requires_grad]
    method(unlabeled_batch())["loss"].backward()
    assert last and all(p.grad is not None and p.grad.abs().sum() == 0 for p in last)
    method.zero_grad()
    method.on_step_end(0.2)
    method(unlabeled_batch())["loss"].backward()
    assert all(p.grad.abs().sum() > 0 for p in last)


def test_dino_head_last_layer_is_weight_normalised():
    head = DINOHead(12, 16, hidden_dim=32, bottleneck_dim=8)
    with torch.no_grad():
        head.last_layer.parametrizations.weight.original1.mul_(5.0)
    logits = head(torch.randn(4, 12)).detach()
    assert logits.shape == (4, 16) and float(logits.abs().max()) <= 1.0 + 1e-6  # cosines
    gain = head.last_layer.parametrizations.weight.original0
    assert not gain.requires_grad
    free = DINOHead(12, 16, 32, 8, norm_last_layer=False)
    assert free.last_layer.parametrizations.weight.original0.requires_grad


def test_dino_trains_on_plain_views_without_collapsing_to_nan():
    method = _build(num_local_views=1)
    for step in range(5):
        _step(method, step / 10)
    out = method(unlabeled_batch())
    assert all(torch.isfinite(v) for v in out.values())


def test_dino_is_registered_and_asks_for_multicrop_views_on_images():
    entry = METHODS.entry("dino")
    assert entry.factory is DINO and entry.info.family == "self-distillation"
    assert "Caron" in entry.info.paper and entry.info.view_style == "multicrop"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_global_views": 0}, "num_global_views"),
        ({"num_global_views": 1, "num_local_views": 0}, "at least two views"),
        ({"num_prototypes": 0}, "num_prototypes"),
        ({"teacher_temperature": 0.0}, "teacher_temperature"),
        ({"momentum_base": 1.5}, "momentum_base"),
        ({"freeze_last_layer": -0.1}, "freeze_last_layer"),
        ({"student_temperature": -1.0}, "temperatures"),
    ],
)
def test_dino_rejects_bad_hyper_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _build(**kwargs)

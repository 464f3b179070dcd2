"""DINO's loss, centre and teacher-temperature schedule (Caron et al. 2021, eq. 3-4, Alg. 1)."""

from __future__ import annotations

import math

import pytest
import torch

from selfsup.losses.dino import (
    DINOLoss,
    dino_center,
    dino_loss,
    teacher_distribution,
    teacher_temperature_schedule,
)

B, K = 5, 7


def _outputs(num_views: int, num_teacher: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    student = [torch.randn(B, K, generator=g, dtype=torch.float64) for _ in range(num_views)]
    teacher = [torch.randn(B, K, generator=g, dtype=torch.float64) for _ in range(num_teacher)]
    center = 0.3 * torch.randn(1, K, generator=g, dtype=torch.float64)
    return student, teacher, center


def _loop_loss(student, teacher, center, tau_s, tau_t) -> float:
    """Independent formulation: explicit softmaxes, one (teacher view, student view, sample)
    at a time."""
    student, teacher = [s.tolist() for s in student], [t.tolist() for t in teacher]
    center = center.tolist()
    total, pairs = 0.0, 0
    for i, t in enumerate(teacher):
        for v, s in enumerate(student):
            if v == i:
                continue
            pair = 0.0
            for b in range(B):
                target = [math.exp((t[b][k] - center[0][k]) / tau_t) for k in range(K)]
                target = [p / sum(target) for p in target]
                normaliser = math.log(sum(math.exp(s[b][k] / tau_s) for k in range(K)))
                pair += -sum(target[k] * (s[b][k] / tau_s - normaliser) for k in range(K))
            total += pair / B
            pairs += 1
    return total / pairs


@pytest.mark.parametrize("num_views,num_teacher", [(2, 2), (6, 2), (4, 1), (5, 3)])
def test_dino_loss_equals_a_loop_over_teacher_and_student_view_pairs(num_views, num_teacher):
    student, teacher, center = _outputs(num_views, num_teacher)
    got = dino_loss(student, teacher, center, student_temperature=0.1, teacher_temperature=0.05)
    expected = _loop_loss(student, teacher, center, 0.1, 0.05)
    assert float(got) == pytest.approx(expected, rel=1e-9)


def test_dino_loss_skips_the_pair_of_a_crop_with_itself():
    student, teacher, center = _outputs(4, 2)
    base = dino_loss(student, teacher, center)
    # Student view 0 is only compared with teacher view 1, so replacing it by teacher view 0's
    # logits cannot lower the loss through a (0, 0) pair; changing it does change the loss.
    changed = [student[0] + 1.0 * torch.arange(K), *student[1:]]
    assert not torch.isclose(dino_loss(changed, teacher, center), base)
    # With two views only, teacher i is compared with student 1 - i only.
    two = dino_loss(student[:2], teacher, center)
    expected = 0.5 * (dino_loss([student[1], student[1]], [teacher[0]], center)
                      + dino_loss([student[0], student[0]], [teacher[1]], center))
    torch.testing.assert_close(two, expected)


def test_dino_loss_sends_no_gradient_to_the_teacher():
    student, teacher, center = _outputs(3, 2)
    student = [s.requires_grad_() for s in student]
    teacher = [t.requires_grad_() for t in teacher]
    dino_loss(student, teacher, center).backward()
    assert all(t.grad is None for t in teacher)
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student)


def test_teacher_distribution_is_centred_and_sharpened():
    t = torch.tensor([[1.0, 2.0, 3.0]])
    torch.testing.assert_close(teacher_distribution(t, t, 0.04), torch.full((1, 3), 1 / 3))
    sharp = teacher_distribution(t, torch.zeros(3), 0.04)
    soft = teacher_distribution(t, torch.zeros(3), 1.0)
    assert sharp[0, 2] > 0.99 and soft[0, 2] < 0.7


def test_dino_center_is_the_ema_of_the_mean_over_every_teacher_view_and_sample():
    _, teacher, center = _outputs(2, 2)
    new = dino_center(teacher, center, momentum=0.9)
    mean = torch.cat(teacher).mean(dim=0, keepdim=True)
    torch.testing.assert_close(new, 0.9 * center + 0.1 * mean)
    assert new.shape == center.shape


def test_dino_loss_module_uses_the_old_centre_then_updates_it_in_training_only():
    student, teacher, _ = _outputs(4, 2)
    criterion = DINOLoss(K, student_temperature=0.1, teacher_temperature=0.04, center_momentum=0.9)
    loss = criterion(student, teacher)
    torch.testing.assert_close(loss, dino_loss(student, teacher, torch.zeros(1, K), 0.1, 0.04))
    expected = 0.1 * torch.cat(teacher).mean(dim=0, keepdim=True)
    torch.testing.assert_close(criterion.center, expected.float())
    assert "center" in criterion.state_dict()
    criterion.eval()
    criterion(student, teacher)
    torch.testing.assert_close(criterion.center, expected.float())


def test_teacher_temperature_warms_up_linearly_then_stays():
    assert teacher_temperature_schedule(0.0, 0.04, 0.07, warmup=0.3) == pytest.approx(0.04)
    assert teacher_temperature_schedule(0.15, 0.04, 0.07, warmup=0.3) == pytest.approx(0.055)
    assert teacher_temperature_schedule(0.3, 0.04, 0.07, warmup=0.3) == pytest.approx(0.07)
    assert teacher_temperature_schedule(1.0, 0.04, 0.07, warmup=0.3) == pytest.approx(0.07)
    assert teacher_temperature_schedule(0.0, 0.04, 0.07, warmup=0.0) == pytest.approx(0.07)


def test_dino_loss_rejects_bad_inputs():
    student, teacher, center = _outputs(2, 2)
    with pytest.raises(ValueError, match="at least two student views"):
        dino_loss(student[:1], teacher[:1], center)
    with pytest.raises(ValueError, match="one shape"):
        dino_loss([student[0], student[1][:, :3]], teacher, center)
    with pytest.raises(ValueError, match="temperatures"):
        DINOLoss(K, student_temperature=0.0)
    with pytest.raises(ValueError, match="center_momentum"):
        DINOLoss(K, center_momentum=1.5)

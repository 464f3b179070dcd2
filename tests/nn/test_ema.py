import pytest
import torch
from torch import nn

from selfsup.nn.ema import cosine_momentum, ema_update, make_teacher


def _student():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))


def test_teacher_is_a_frozen_copy():
    student = _student()
    teacher = make_teacher(student)
    assert all(not p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in student.parameters())
    for t, s in zip(teacher.parameters(), student.parameters()):
        assert torch.equal(t, s) and t.data_ptr() != s.data_ptr()


def test_teacher_after_update_equals_ema_formula():
    student = _student()
    teacher = make_teacher(student)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p))
    before = [p.clone() for p in teacher.parameters()]
    ema_update(teacher, student, momentum=0.9)
    for t, t0, s in zip(teacher.parameters(), before, student.parameters()):
        torch.testing.assert_close(t, 0.9 * t0 + 0.1 * s)


def test_ema_update_copies_buffers():
    student = _student().train()
    teacher = make_teacher(student)
    student(torch.randn(16, 4))  # changes BatchNorm running statistics
    ema_update(teacher, student, momentum=0.99)
    for t, s in zip(teacher.buffers(), student.buffers()):
        assert torch.equal(t, s)


def test_ema_update_with_momentum_one_keeps_teacher():
    student = _student()
    teacher = make_teacher(student)
    with torch.no_grad():
        student[0].weight.add_(1.0)
    before = teacher[0].weight.clone()
    ema_update(teacher, student, momentum=1.0)
    assert torch.equal(teacher[0].weight, before)


def test_cosine_momentum_schedule_endpoints():
    assert cosine_momentum(0.0, 0.996) == pytest.approx(0.996)
    assert cosine_momentum(1.0, 0.996) == pytest.approx(1.0)
    assert cosine_momentum(0.5, 0.99) == pytest.approx(0.995)


def test_cosine_momentum_increases_with_progress():
    values = [cosine_momentum(p / 10, 0.9) for p in range(11)]
    assert all(a < b for a, b in zip(values, values[1:]))

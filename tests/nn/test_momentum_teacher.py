"""MomentumTeacher: frozen EMA copies of student modules, their schedule and their forward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from selfsup.nn.ema import cosine_momentum
from selfsup.nn.momentum_teacher import MomentumTeacher


class _Owner(nn.Module):
    """What a method looks like to the teacher: students it holds, then the teacher."""

    def __init__(self, **teacher_options) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
        self.projector = nn.Linear(6, 3)
        self.teacher = MomentumTeacher(
            {"encoder": self.encoder, "projector": self.projector},
            **{"momentum_base": 0.9, **teacher_options},
        )


def _perturb_students(owner: _Owner) -> None:
    with torch.no_grad():
        for p in [*owner.encoder.parameters(), *owner.projector.parameters()]:
            p.add_(torch.randn_like(p))
    owner.encoder(torch.randn(8, 4))  # moves the BatchNorm running statistics


def test_copies_are_frozen_registered_submodules_named_after_the_students():
    owner = _Owner()
    teacher_params = list(owner.teacher.parameters())
    assert teacher_params and not any(p.requires_grad for p in teacher_params)
    assert owner.teacher.encoder is not owner.encoder
    keys = owner.state_dict().keys()
    assert "teacher.encoder.0.weight" in keys and "teacher.projector.bias" in keys
    # the students are saved once, by their owner, not again under the teacher
    assert not any(k.startswith("teacher.students") for k in keys)
    assert len(keys) == 2 * len(nn.ModuleDict({"e": owner.encoder, "p": owner.projector}).state_dict())


def test_forward_applies_the_copies_in_order_without_gradient():
    owner = _Owner()
    x = torch.randn(5, 4, requires_grad=True)
    out = owner.teacher(x)
    expected = owner.teacher.projector(owner.teacher.encoder(x))
    torch.testing.assert_close(out, expected)
    assert not out.requires_grad


def test_update_is_the_ema_of_each_copy_towards_its_student_at_the_cosine_momentum():
    torch.manual_seed(0)
    owner = _Owner()
    before = [p.clone() for p in owner.teacher.parameters()]
    _perturb_students(owner)
    m = owner.teacher.update(0.25)
    assert m == owner.teacher.momentum == cosine_momentum(0.25, 0.9)
    students = [*owner.encoder.parameters(), *owner.projector.parameters()]
    for t, t0, s in zip(owner.teacher.parameters(), before, students):
        torch.testing.assert_close(t, m * t0 + (1 - m) * s)
    # buffers (BatchNorm statistics) are copied, not averaged
    for t_buf, s_buf in zip(owner.teacher.encoder.buffers(), owner.encoder.buffers()):
        torch.testing.assert_close(t_buf, s_buf)


def test_linear_schedule_runs_from_base_to_final_and_clamps_progress():
    teacher = _Owner(momentum_base=0.9, schedule="linear", momentum_final=0.99).teacher
    assert teacher.momentum == 0.9
    assert teacher.momentum_at(0.5) == pytest.approx(0.945)
    assert teacher.momentum_at(2.0) == pytest.approx(0.99)
    assert teacher.momentum_at(-1.0) == pytest.approx(0.9)


def test_cosine_schedule_freezes_the_teacher_at_the_end():
    owner = _Owner()
    before = [p.clone() for p in owner.teacher.parameters()]
    _perturb_students(owner)
    assert owner.teacher.update(1.0) == 1.0
    assert all(torch.equal(t, t0) for t, t0 in zip(owner.teacher.parameters(), before))


def test_teacher_follows_its_owner_to_another_dtype():
    owner = _Owner().double()
    assert all(p.dtype == torch.float64 for p in owner.teacher.parameters())
    owner.teacher.update(0.5)  # students and copies still pair up after the move


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"momentum_base": 1.5}, "momentum_base"),
        ({"momentum_base": "0.9"}, "momentum_base"),
        ({"schedule": "step"}, "schedule"),
        ({"momentum_final": 0.99}, "cosine schedule ends at momentum 1"),
        ({"schedule": "linear", "momentum_final": 0.5}, "momentum_final"),
    ],
)
def test_bad_options_are_rejected(options, match):
    with pytest.raises(ValueError, match=match):
        _Owner(**options)


def test_a_student_name_that_clashes_with_a_module_attribute_is_rejected():
    with pytest.raises(KeyError):
        MomentumTeacher({"forward": nn.Linear(2, 2)}, momentum_base=0.9)

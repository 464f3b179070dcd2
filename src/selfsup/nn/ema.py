"""The exponential-moving-average arithmetic of momentum teachers (BYOL, DINO, MoCo v3, I-JEPA …):
:func:`make_teacher`, :func:`ema_update` and the :func:`cosine_momentum` schedule.

The teacher ("target network" in BYOL) is a frozen copy of a student module whose
parameters follow ``teacher = m * teacher + (1 - m) * student`` after each optimiser step
(Grill et al. 2020, BYOL, Section 3.1), with the momentum ``m`` raised from ``m_base`` to 1
over training by a cosine schedule (Section 3.3, "Optimization"). Methods use these through
:class:`selfsup.nn.momentum_teacher.MomentumTeacher`.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def make_teacher(student: nn.Module) -> nn.Module:
    """A deep copy of ``student`` that never receives gradients.

    The copy is a regular submodule of whatever holds it, so it follows ``.to(device)``,
    ``.train()``/``.eval()`` and ``state_dict`` (checkpoints resume the teacher too).
    Its parameters have ``requires_grad=False``, so optimisers and DDP skip them.
    """
    teacher = copy.deepcopy(student)
    teacher.requires_grad_(False)
    return teacher


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """In place: ``teacher_p = momentum * teacher_p + (1 - momentum) * student_p``.

    Buffers (BatchNorm running statistics, counters) are copied from the student rather than
    averaged: they are statistics, not weights, and the student's are the current ones.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"EMA momentum must be in [0, 1], got {momentum}")
    teacher_params = list(teacher.parameters())
    student_params = list(student.parameters())
    if len(teacher_params) != len(student_params):
        raise ValueError("teacher and student have different parameter lists")
    for t, s in zip(teacher_params, student_params):
        # lerp_(s, w) computes t + w * (s - t) = (1 - w) t + w s, with w = 1 - m.
        t.lerp_(s.detach(), 1.0 - momentum)
    for t_buf, s_buf in zip(teacher.buffers(), student.buffers()):
        t_buf.copy_(s_buf)


def cosine_momentum(progress: float, base: float) -> float:
    """BYOL's schedule ``m = 1 - (1 - base) * (cos(pi * progress) + 1) / 2``.

    Args:
        progress: fraction of training done, ``k / K`` in the paper, in ``[0, 1]``.
        base: momentum at the start (``tau_base``; 0.996 in BYOL).

    Returns:
        ``base`` at progress 0, rising to 1.0 at progress 1.
    """
    progress = min(max(float(progress), 0.0), 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0

"""The momentum teacher: EMA copies of student modules, with their momentum schedule.

BYOL's target network, MoCo's momentum (key) encoder, DINO's teacher and I-JEPA's target
encoder are one mechanism: a frozen copy of some of the trained modules whose weights follow
``teacher = m * teacher + (1 - m) * student`` after each optimiser step, with ``m`` raised
towards 1 over training (Grill et al. 2020, BYOL, Sections 3.1 and 3.3).
:class:`MomentumTeacher` is that mechanism once; the EMA arithmetic itself is
:mod:`selfsup.nn.ema`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from selfsup.nn.ema import cosine_momentum, ema_update, make_teacher

SCHEDULES = ("cosine", "linear")


class MomentumTeacher(nn.Module):
    r"""Frozen EMA copies of one or more student modules, applied one after the other.

    ``MomentumTeacher({"encoder": encoder, "projector": projector}, momentum_base=0.99)``
    deep-copies each student (:func:`~selfsup.nn.ema.make_teacher`: no gradient) into a
    submodule of the same name (``teacher.encoder``, ``teacher.projector``), so the copies
    follow ``.to(device)``, ``.train()``/``.eval()`` and ``state_dict`` of whatever holds the
    teacher, and optimisers and DDP skip them. The students themselves stay registered where
    they are (the method holds them); the teacher only keeps a reference to read their
    weights in :meth:`update`, and never saves them. Make the teacher after loading
    pretrained weights into the students: the copies start from the students' weights now.

    Schedules of the momentum :math:`m` over training progress :math:`p \in [0, 1]`:

    * ``"cosine"`` (BYOL, MoCo v3, DINO): :math:`m = 1 - (1 - m_{base})(\cos(\pi p) + 1)/2`,
      from ``momentum_base`` to 1 (:func:`~selfsup.nn.ema.cosine_momentum`).
    * ``"linear"`` (I-JEPA): :math:`m = m_{base} + (m_{final} - m_{base})\, p`.

    Args:
        students: name -> student module, in the order :meth:`forward` applies them (a name
            must not clash with an attribute of ``nn.Module``).
        momentum_base: :math:`m` at the start of training, in ``[0, 1]``.
        schedule: ``"cosine"`` or ``"linear"``.
        momentum_final: :math:`m` at the end of training for the linear schedule (the cosine
            schedule always ends at 1).

    Attributes:
        momentum: the momentum of the last :meth:`update` (``momentum_base`` before the first).

    Shapes: whatever the students take; ``forward(x)`` is
    ``copy_n(... copy_1(x))`` without gradient.

    Example:
        >>> teacher = MomentumTeacher({"encoder": encoder, "projector": projector},
        ...                           momentum_base=0.99)  # doctest: +SKIP
        >>> targets = teacher(view["x"])                   # projector_t(encoder_t(x))
        >>> teacher.update(progress)                       # after the optimiser step
    """

    def __init__(
        self,
        students: Mapping[str, nn.Module],
        *,
        momentum_base: float,
        schedule: str = "cosine",
        momentum_final: float = 1.0,
    ) -> None:
        super().__init__()
        if not students:
            raise ValueError("MomentumTeacher needs at least one student module")
        if not (isinstance(momentum_base, (int, float)) and 0.0 <= momentum_base <= 1.0):
            raise ValueError(f"momentum_base must be in [0, 1], got {momentum_base!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if schedule == "cosine" and momentum_final != 1.0:
            raise ValueError(
                f"the cosine schedule ends at momentum 1, got momentum_final={momentum_final!r}"
            )
        if not momentum_base <= momentum_final <= 1.0:
            raise ValueError(
                f"need momentum_base <= momentum_final <= 1, got {momentum_base}, {momentum_final}"
            )
        for name, student in students.items():
            # add_module refuses a name that is already an attribute (e.g. "forward").
            self.add_module(name, make_teacher(student))
        # A plain tuple, not registered: the students belong to (and are saved by) the method.
        self.students: tuple[tuple[str, nn.Module], ...] = tuple(students.items())
        self.momentum_base = float(momentum_base)
        self.momentum_final = float(momentum_final)
        self.schedule = schedule
        self.momentum = self.momentum_base

    def momentum_at(self, progress: float) -> float:
        """The scheduled momentum at training progress ``progress`` (clamped to ``[0, 1]``)."""
        if self.schedule == "cosine":
            return cosine_momentum(progress, self.momentum_base)
        progress = min(max(float(progress), 0.0), 1.0)
        return self.momentum_base + (self.momentum_final - self.momentum_base) * progress

    @torch.no_grad()
    def update(self, progress: float) -> float:
        """Set :attr:`momentum` from the schedule, then move every copy towards its student
        (:func:`~selfsup.nn.ema.ema_update`: weights averaged, buffers copied). Returns it."""
        self.momentum = self.momentum_at(progress)
        for name, student in self.students:
            ema_update(getattr(self, name), student, self.momentum)
        return self.momentum

    @torch.no_grad()
    def forward(self, x: Any) -> Any:
        """The copies applied in order, without gradient (the stop-gradient of the targets)."""
        for name, _ in self.students:
            x = getattr(self, name)(x)
        return x

    def extra_repr(self) -> str:
        final = f", momentum_final={self.momentum_final}" if self.schedule == "linear" else ""
        return f"schedule={self.schedule}, momentum_base={self.momentum_base}{final}"

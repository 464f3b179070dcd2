"""DINO's self-distillation loss with a centred, sharpened teacher.

DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers",
Section 3.1, eq. 2-4 and Algorithm 1): the student's softmax over ``K`` prototypes is
trained, by cross-entropy, to match the teacher's, where the teacher's output is *centred*
(an EMA of its batch mean is subtracted) and *sharpened* (a low temperature). Centring
alone would push towards the uniform distribution, sharpening alone towards one dominant
prototype; together they avoid both collapses (Section 5.3).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.nn.gather import gather


def teacher_distribution(teacher_logits: Tensor, center: Tensor, temperature: float) -> Tensor:
    r"""The centred, sharpened teacher targets :math:`P_t = \mathrm{softmax}((g_t - c)/\tau_t)`.

    Args:
        teacher_logits: ``[B, K]`` teacher head outputs :math:`g_t(x)`.
        center: ``[K]`` or ``[1, K]`` centre :math:`c`.
        temperature: :math:`\tau_t`.

    Returns:
        ``[B, K]`` probabilities, detached (the stop-gradient of Algorithm 1).
    """
    return F.softmax((teacher_logits.detach() - center) / temperature, dim=-1)


def dino_loss(
    student_logits: Sequence[Tensor],
    teacher_logits: Sequence[Tensor],
    center: Tensor,
    student_temperature: float = 0.1,
    teacher_temperature: float = 0.04,
) -> Tensor:
    r"""DINO's multi-crop cross-entropy (Caron et al. 2021, eq. 3 and Algorithm 1).

    With :math:`V` student views and :math:`G \le V` teacher (global) views, where teacher
    view :math:`i` is the same crop as student view :math:`i`,

    .. math::
        \mathcal{L} = \frac{1}{G(V-1)} \sum_{i=1}^{G} \sum_{v \ne i}
            \frac{1}{B} \sum_{b=1}^{B} H\big(P_t^{(i)}[b],\, P_s^{(v)}[b]\big),
        \quad H(p, q) = -\sum_k p_k \log q_k,

    :math:`P_s = \mathrm{softmax}(g_s / \tau_s)` and
    :math:`P_t = \mathrm{softmax}((g_t - c)/\tau_t)` (:func:`teacher_distribution`,
    no gradient). As in the official code, the mean over the :math:`G(V-1)` pairs weighs
    every pair equally.

    The loss is a mean of per-sample terms, so it needs no gather: the mean of the per-process
    losses is the full-batch loss. Only the centre uses the global batch (:func:`dino_center`).

    Args:
        student_logits: ``V`` tensors ``[B, K]``, the student head outputs of every view.
        teacher_logits: ``G`` tensors ``[B, K]``, the teacher head outputs of views ``0..G-1``.
        center: ``[K]`` or ``[1, K]`` centre :math:`c`.
        student_temperature: :math:`\tau_s` (0.1 in the paper).
        teacher_temperature: :math:`\tau_t` (0.04 to 0.07 in the paper).

    Returns:
        Scalar loss.

    Example:
        >>> student = [torch.randn(4, 16) for _ in range(6)]  # 2 global + 4 local views
        >>> teacher = [torch.randn(4, 16) for _ in range(2)]
        >>> loss = dino_loss(student, teacher, center=torch.zeros(16))
    """
    num_views, num_teacher = len(student_logits), len(teacher_logits)
    if num_teacher < 1 or num_views < 2 or num_teacher > num_views:
        raise ValueError(
            f"dino_loss needs at least one teacher view, at least two student views and no more "
            f"teacher than student views; got {num_teacher} teacher and {num_views} student views"
        )
    shape = teacher_logits[0].shape
    if len(shape) != 2 or any(t.shape != shape for t in [*student_logits, *teacher_logits]):
        raise ValueError(
            "dino_loss expects [B, K] tensors of one shape; got "
            f"{[tuple(t.shape) for t in student_logits]} (student) and "
            f"{[tuple(t.shape) for t in teacher_logits]} (teacher)"
        )
    targets = [teacher_distribution(t, center, teacher_temperature) for t in teacher_logits]
    log_probs = [F.log_softmax(s / student_temperature, dim=-1) for s in student_logits]
    total, pairs = 0.0, 0
    for i, target in enumerate(targets):
        for v, log_prob in enumerate(log_probs):
            if v == i:  # the same crop: nothing to learn
                continue
            total = total + torch.sum(-target * log_prob, dim=-1).mean()
            pairs += 1
    return total / pairs


@torch.no_grad()
def dino_center(teacher_logits: Sequence[Tensor], center: Tensor, momentum: float = 0.9) -> Tensor:
    r"""The next centre: :math:`c \leftarrow m c + (1 - m) \frac{1}{N} \sum_{n=1}^{N} g_t(x_n)`
    (Caron et al. 2021, eq. 4).

    The mean runs over the **global** batch: every teacher view of every sample on every
    process (``N = G * B * W``), as the official code's ``all_reduce``. The sums are collected
    with :func:`selfsup.nn.gather.gather` (no gradient flows: the centre is a statistic of the
    stop-gradient teacher), so every process holds the same centre.

    Args:
        teacher_logits: ``G`` tensors ``[B, K]``.
        center: ``[K]`` or ``[1, K]`` current centre.
        momentum: :math:`m` (0.9 in the paper).

    Returns:
        The new centre, with the shape of ``center``.
    """
    outputs = torch.cat([t.detach() for t in teacher_logits]).float()  # [G*B, K]
    sums = gather(outputs.sum(dim=0, keepdim=True))  # [W, K], one row per process
    batch_mean = sums.sum(dim=0) / (outputs.shape[0] * sums.shape[0])
    return center * momentum + batch_mean.reshape(center.shape).to(center.dtype) * (1 - momentum)


def teacher_temperature_schedule(
    progress: float, start: float = 0.04, end: float = 0.07, warmup: float = 0.3
) -> float:
    """Linear warm-up of :math:`\\tau_t` from ``start`` to ``end`` over the first ``warmup``
    fraction of training, then constant (DINO, Section 4.2 / Appendix: 0.04 -> 0.07 over the
    first 30 epochs).

    Args:
        progress: fraction of training done, in ``[0, 1]``.
        start: :math:`\\tau_t` at progress 0.
        end: :math:`\\tau_t` from progress ``warmup`` on.
        warmup: fraction of training the warm-up lasts (0 = no warm-up).
    """
    progress = min(max(float(progress), 0.0), 1.0)
    if warmup <= 0.0 or progress >= warmup:
        return end
    return start + (end - start) * progress / warmup


class DINOLoss(nn.Module):
    """DINO's loss with its centre (Caron et al. 2021, Algorithm 1): :func:`dino_loss`, then,
    in training mode, the centre update :func:`dino_center` with this step's teacher outputs.

    The centre is a buffer, so it moves with ``.to(device)`` and is saved in checkpoints.
    ``teacher_temperature`` is a plain attribute a schedule may change between steps.

    Args:
        num_prototypes: ``K``, the width of the head outputs.
        student_temperature: :math:`\\tau_s`.
        teacher_temperature: :math:`\\tau_t` (current value).
        center_momentum: :math:`m` of the centre's EMA.

    Shapes: ``student: V x [B, K]``, ``teacher: G x [B, K]`` -> scalar.
    """

    center: Tensor

    def __init__(
        self,
        num_prototypes: int,
        student_temperature: float = 0.1,
        teacher_temperature: float = 0.04,
        center_momentum: float = 0.9,
    ) -> None:
        super().__init__()
        if student_temperature <= 0 or teacher_temperature <= 0:
            raise ValueError(
                f"temperatures must be > 0, got student {student_temperature}, "
                f"teacher {teacher_temperature}"
            )
        if not 0.0 <= center_momentum <= 1.0:
            raise ValueError(f"center_momentum must be in [0, 1], got {center_momentum}")
        self.student_temperature = student_temperature
        self.teacher_temperature = teacher_temperature
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, num_prototypes))

    def forward(self, student: Sequence[Tensor], teacher: Sequence[Tensor]) -> Tensor:
        loss = dino_loss(
            student, teacher, self.center, self.student_temperature, self.teacher_temperature
        )
        if self.training:
            self.center.copy_(dino_center(teacher, self.center, self.center_momentum))
        return loss

    def extra_repr(self) -> str:
        return (
            f"student_temperature={self.student_temperature}, "
            f"teacher_temperature={self.teacher_temperature}, "
            f"center_momentum={self.center_momentum}"
        )

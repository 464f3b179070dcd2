"""DINO: self-distillation with no labels (a student matches a centred, sharpened EMA teacher)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from selfsup.losses.dino import DINOLoss, teacher_distribution, teacher_temperature_schedule
from selfsup.methods.base import Method
from selfsup.nn.momentum_teacher import MomentumTeacher
from selfsup.registry import METHODS
from selfsup.validate import check_int


class DINOHead(nn.Module):
    """DINO's projection head (Caron et al. 2021, Section 3.1 and the official ``DINOHead``).

    An MLP ``(Linear-GELU) * (num_layers - 1), Linear`` to a ``bottleneck_dim`` bottleneck,
    l2-normalisation, then a weight-normalised linear layer without bias to ``K`` prototypes:
    ``logits = <x / |x|, g * v / |v|>``. With ``norm_last_layer`` the gain ``g`` is fixed at
    1, so the logits are cosine similarities to the prototypes, in [-1, 1].

    Shapes: ``[B, in_dim] -> [B, num_prototypes]``.
    """

    def __init__(
        self,
        in_dim: int,
        num_prototypes: int,
        hidden_dim: int = 2048,
        bottleneck_dim: int = 256,
        num_layers: int = 3,
        batch_norm: bool = False,
        norm_last_layer: bool = True,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"DINOHead needs num_layers >= 1, got {num_layers}")
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(width, hidden_dim))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.GELU())
            width = hidden_dim
        layers.append(nn.Linear(width, bottleneck_dim))
        self.mlp = nn.Sequential(*layers)
        for module in self.mlp.modules():
            if isinstance(module, nn.Linear):  # the official initialisation
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        self.last_layer = weight_norm(nn.Linear(bottleneck_dim, num_prototypes, bias=False))
        gain = self.last_layer.parametrizations.weight.original0
        with torch.no_grad():
            gain.fill_(1.0)
        gain.requires_grad_(not norm_last_layer)

    def forward(self, x: torch.Tensor, freeze_last_layer: bool = False) -> torch.Tensor:
        x = F.normalize(self.mlp(x), dim=-1)
        weight = self.last_layer.weight
        if freeze_last_layer:
            # A zero gradient rather than none: DDP (without find_unused_parameters) expects a
            # gradient for every trainable parameter at every step.
            weight = weight.detach() + 0.0 * weight
        return F.linear(x, weight)


@METHODS.register(
    "dino",
    family="self-distillation",
    paper="Caron et al. 2021, Emerging Properties in Self-Supervised Vision Transformers",
    view_style="multicrop",
)
class DINO(Method):
    r"""DINO (Caron, Touvron, Misra, Jégou, Mairal, Bojanowski, Joulin 2021).

    A student :math:`g_{\theta_s}` (encoder + :class:`DINOHead`) is trained to match the
    output distribution of a teacher :math:`g_{\theta_t}`, an EMA of the student, across
    views (eq. 3 and Algorithm 1). Only the first ``num_global_views`` views go through the
    teacher; every view goes through the student:

    .. math::
        \min_{\theta_s} \sum_{i < G} \sum_{v \ne i} H\big(P_t(x_i), P_s(x_v)\big),\quad
        P_s = \mathrm{softmax}(g_s / \tau_s),\quad P_t = \mathrm{softmax}((g_t - c) / \tau_t),

    with the centre :math:`c \leftarrow m c + (1-m)\,\mathrm{mean}(g_t)` over the global batch
    (eq. 4) and :math:`\theta_t \leftarrow \lambda \theta_t + (1-\lambda)\theta_s`.
    See :mod:`selfsup.losses.dino`.

    The method asks for ``num_global_views + num_local_views`` views and never looks at them:
    with the ``multicrop`` view maker (the default on images) the extra views are small local
    crops; with any other view maker they are simply more views. Keep ``num_global_views``
    equal to the view maker's.

    Logged: ``teacher_entropy`` (mean entropy of :math:`P_t`; ``log K`` means collapse to
    uniform), ``teacher_marginal_entropy`` (entropy of the batch-mean :math:`P_t`; near 0 means
    every sample picks the same prototype), ``kl`` (loss minus ``teacher_entropy``: the mean
    :math:`KL(P_t \| P_s)`, near 0 at collapse, Section 5.3 / Fig. 7), ``teacher_temperature``
    and ``momentum``.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``. The
            teacher is a deep copy made here.
        views: view maker, ``views(batch, G + L) -> G + L`` views, the first ``G`` global.
        num_global_views: ``G``, views seen by the teacher.
        num_local_views: ``L``, extra views seen only by the student.
        num_prototypes: ``K``, the output dimension of the head.
        head_hidden_dim, head_bottleneck_dim, head_layers, head_batch_norm: :class:`DINOHead`.
        norm_last_layer: fix the gain of the weight-normalised last layer at 1.
        student_temperature: :math:`\tau_s`.
        teacher_temperature: :math:`\tau_t` after the warm-up.
        teacher_temperature_start: :math:`\tau_t` at the start of the warm-up.
        teacher_warmup: fraction of training over which :math:`\tau_t` rises linearly.
        center_momentum: :math:`m`.
        momentum_base: :math:`\lambda` at the start; cosine schedule to 1 (as BYOL).
        freeze_last_layer: fraction of training during which the prototypes get no update.

    Paper defaults vs. library defaults (Section 3.2 "Implementation details" and the
    official code's ViT-S/16 and ResNet-50 settings):
        * head: 3 layers, hidden 2048, bottleneck 256, ``K = 65536``, normalised last layer;
          BN in the head is an option of the code (``use_bn_in_head``), off for ViT-S and
          ResNet-50. Library: hidden 512, bottleneck 256, ``K = 1024``, **with BN**.
          ``K``: the last layer costs ``B·V·256·K`` per step and a 2048-wide MLP on 6 views
          dominates a CPU step; digits have 10 classes and ~1.4k images, so 1024 prototypes
          are still ~100 per class. BN: a CNN encoder's pooled ReLU features share a large
          common component (mean pairwise cosine 0.7 for ``small_cnn`` on digits), so without
          BN the head's outputs barely vary across samples at init; once centred the teacher
          is nearly uniform and training collapsed to uniform (teacher entropy -> log K,
          KL -> 0) within 60 steps on digits in every setting we tried (temperatures, lr,
          momentum, views). BN in the first layers removes the common component.
        * :math:`\tau_s = 0.1`: same. :math:`\tau_t`: 0.04 -> 0.07 over the first 30 epochs
          for ViT-S; 0.04 constant for ResNet-50. Library: 0.04 constant (the warm-up is there:
          set ``teacher_temperature_start``/``teacher_warmup``). On digits the warm-up to 0.07
          left the teacher nearly uniform (entropy 6.87 of log K = 6.93 at the end, kNN
          0.964) where 0.04 kept it learning (entropy 5.1, kNN 0.969).
        * centre momentum 0.9: same.
        * teacher momentum 0.996 -> 1 (cosine): library 0.99 -> 1, as BYOL's library default:
          a short run has few steps (300 on digits) and a 0.996 teacher hardly moves.
        * 2 global (224 px) + 10 local (96 px) crops in the paper (8 local in the code's
          default). Library: 2 + 4, a CPU budget (each local view costs a student pass).
        * last layer frozen during the first epoch: library 1 % of training (one epoch of a
          100-epoch run).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        num_global_views: int = 2,
        num_local_views: int = 4,
        num_prototypes: int = 1024,
        head_hidden_dim: int = 512,
        head_bottleneck_dim: int = 256,
        head_layers: int = 3,
        head_batch_norm: bool = True,
        norm_last_layer: bool = True,
        student_temperature: float = 0.1,
        teacher_temperature: float = 0.04,
        teacher_temperature_start: float = 0.04,
        teacher_warmup: float = 0.3,
        center_momentum: float = 0.9,
        momentum_base: float = 0.99,
        freeze_last_layer: float = 0.01,
    ) -> None:
        super().__init__(encoder, views)
        for name, value, low in [
            ("num_global_views", num_global_views, 1), ("num_local_views", num_local_views, 0),
            ("num_prototypes", num_prototypes, 1), ("head_hidden_dim", head_hidden_dim, 1),
            ("head_bottleneck_dim", head_bottleneck_dim, 1), ("head_layers", head_layers, 1),
        ]:
            check_int(value, name, low)
        if num_global_views + num_local_views < 2:
            raise ValueError(
                "DINO needs at least two views: num_global_views + num_local_views >= 2, got "
                f"{num_global_views} + {num_local_views}"
            )
        for name, value in [("teacher_temperature", teacher_temperature),
                            ("teacher_temperature_start", teacher_temperature_start)]:
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        for name, value in [("teacher_warmup", teacher_warmup), ("momentum_base", momentum_base),
                            ("freeze_last_layer", freeze_last_layer)]:
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self.num_global_views = num_global_views
        self.num_local_views = num_local_views
        self.head = DINOHead(
            self.embed_dim, num_prototypes, head_hidden_dim, head_bottleneck_dim, head_layers,
            head_batch_norm, norm_last_layer,
        )
        # The teacher: EMA copies of encoder and head, no gradient.
        self.teacher = MomentumTeacher(
            {"encoder": self.encoder, "head": self.head}, momentum_base=momentum_base
        )
        self.criterion = DINOLoss(
            num_prototypes, student_temperature, teacher_temperature_start, center_momentum
        )
        self.teacher_temperature = teacher_temperature
        self.teacher_temperature_start = teacher_temperature_start
        self.teacher_warmup = teacher_warmup
        self.freeze_last_layer = freeze_last_layer
        # Training progress in [0, 1], a buffer so that a resumed run restores the schedules.
        self.register_buffer("progress", torch.zeros(()))
        self._set_teacher_temperature(0.0)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        # Algorithm 1: the first G views are the teacher's (global) crops, all go to the student.
        views = self.views(batch, self.num_global_views + self.num_local_views)
        progress = float(self.progress)
        self._set_teacher_temperature(progress)
        frozen = progress < self.freeze_last_layer
        student = [self.head(self.encoder(v["x"]), freeze_last_layer=frozen) for v in views]
        with torch.no_grad():
            teacher = [self.teacher(v["x"]) for v in views[: self.num_global_views]]
            # Collapse indicators, with the centre this step's loss uses (before its update).
            targets = torch.cat([
                teacher_distribution(t, self.criterion.center, self.criterion.teacher_temperature)
                for t in teacher
            ])
            entropy = _entropy(targets).mean()
            marginal_entropy = _entropy(targets.mean(dim=0))
        loss = self.criterion(student, teacher)
        device = loss.device
        return {
            "loss": loss,
            "teacher_entropy": entropy,
            "teacher_marginal_entropy": marginal_entropy,
            # every teacher view meets V - 1 student views, so mean CE - mean H = mean KL
            "kl": (loss.detach() - entropy),
            "teacher_temperature": torch.tensor(self.criterion.teacher_temperature, device=device),
            # the momentum of the last teacher update (from progress: right after a resume too)
            "momentum": torch.tensor(self.teacher.momentum_at(progress), device=device),
        }

    def on_step_end(self, progress: float) -> None:
        """Advance the schedules (teacher temperature, momentum), then update the teacher."""
        self.progress.fill_(float(progress))
        self._set_teacher_temperature(progress)
        self.teacher.update(progress)

    def _set_teacher_temperature(self, progress: float) -> None:
        self.criterion.teacher_temperature = teacher_temperature_schedule(
            progress, self.teacher_temperature_start, self.teacher_temperature, self.teacher_warmup
        )


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of probability vectors along the last dimension."""
    return -(p * torch.log(p.clamp_min(1e-12))).sum(dim=-1)

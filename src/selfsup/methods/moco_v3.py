"""MoCo v3: queries contrast with the momentum-encoder keys of the (global) batch, no queue."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.losses.moco import moco_v3_loss
from selfsup.methods.base import Method
from selfsup.methods.checks import check_positive_int, check_temperature
from selfsup.nn.heads import MLP
from selfsup.nn.momentum_teacher import MomentumTeacher
from selfsup.registry import METHODS


@METHODS.register(
    "moco_v3",
    family="contrastive",
    paper="Chen, Xie, He 2021, An Empirical Study of Training Self-Supervised Vision Transformers",
    view_style="asymmetric",
)
class MoCoV3(Method):
    r"""MoCo v3 (Chen, Xie, He 2021), Algorithm 1.

    No queue: the keys of the other samples of the (global) batch are the negatives. The
    query side has a projector :math:`g` and a predictor :math:`h`; the momentum side
    (:math:`f_k, g_k`, EMA copies) gives the keys:

    .. math::
        q_i = h(g(f(x_i))), \quad k_i = g_k(f_k(x_i)), \qquad
        \mathcal{L} = \mathrm{ctr}(q_1, k_2) + \mathrm{ctr}(q_2, k_1),

    .. math::
        \mathrm{ctr}(q, k) = 2\tau \cdot \mathrm{CE}\big(q k^\top / \tau,\ \text{labels} = i\big)

    with the keys gathered from all processes
    (:func:`selfsup.losses.moco.moco_v3_contrastive`).
    BatchNorm: the engine syncs it across GPUs, as the paper does; no shuffling is needed
    since query and positive key never differ in which batch they were normalised with.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2)`` (the paper uses BYOL's asymmetric pair).
        projector_hidden_dim: hidden width of :math:`g`.
        projector_dim: output width of :math:`g` and :math:`h`.
        projector_layers: number of linear layers of :math:`g`.
        predictor_hidden_dim: hidden width of :math:`h`.
        temperature: :math:`\tau`.
        momentum_base: :math:`m` at the start, rising to 1 with the cosine schedule.

    Paper defaults vs. library defaults (implementation details of the paper and its
    official code):
        * projector: 3 layers (ViT) or 2 layers (ResNet), hidden 4096, output 256; predictor:
          2 layers, hidden 4096, output 256; in the official code both have BN on every layer,
          the output one without affine parameters. Library: the same structure with the
          projector's 2 layers (the ResNet setting, for the small convolutional or MLP
          encoders of a CPU run), hidden 1024 for both heads, output 256.
        * :math:`\tau = 0.2` for ViT (the official code's default, used for ResNet, is 1.0).
          Library: 0.2.
        * :math:`m = 0.99` with a cosine increase to 1. Library: the same.
        * batch 4096, AdamW/LARS; BYOL's augmentations (registered as this method's image
          views).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 1024,
        projector_dim: int = 256,
        projector_layers: int = 2,
        predictor_hidden_dim: int = 1024,
        temperature: float = 0.2,
        momentum_base: float = 0.99,
    ) -> None:
        super().__init__(encoder, views)
        for value, name in ((projector_hidden_dim, "projector_hidden_dim"),
                            (projector_dim, "projector_dim"),
                            (projector_layers, "projector_layers"),
                            (predictor_hidden_dim, "predictor_hidden_dim")):
            check_positive_int(value, name)
        self.temperature = check_temperature(temperature)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim,
                             num_layers=projector_layers, last_batch_norm=True)
        # The official code ends both heads with a BatchNorm without affine parameters.
        self.predictor = MLP(projector_dim, predictor_hidden_dim, projector_dim, num_layers=2,
                             last_batch_norm=True)
        # The momentum encoder: EMA copies of encoder and projector, no gradient.
        self.teacher = MomentumTeacher(
            {"encoder": self.encoder, "projector": self.projector}, momentum_base=momentum_base
        )

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        # Queries q = predictor(projector(base_encoder(x))).
        q1 = self.predictor(self.projector(self.encoder(v1["x"])))
        q2 = self.predictor(self.projector(self.encoder(v2["x"])))
        # Keys from the momentum encoder, no gradient.
        k1 = self.teacher(v1["x"])
        k2 = self.teacher(v2["x"])
        loss = moco_v3_loss(q1, q2, k1, k2, self.temperature)
        positive_cosine = F.cosine_similarity(q1, k2, dim=-1).mean().detach()
        return {
            "loss": loss,
            "positive_cosine": positive_cosine,
            "momentum": torch.tensor(self.teacher.momentum, device=loss.device),
        }

    def on_step_end(self, progress: float) -> None:
        """Momentum from BYOL's cosine schedule, then ``key = m key + (1 - m) query`` weights."""
        self.teacher.update(progress)

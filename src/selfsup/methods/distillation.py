"""Negative-free siamese methods: a predictor on one view regresses a target from the other.

* BYOL — the target comes from a slowly moving (EMA) teacher.
* SimSiam — the target is the same network's projection under a stop-gradient; no teacher.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.losses.regression import byol_loss, simsiam_loss
from selfsup.methods.base import Method
from selfsup.nn.ema import cosine_momentum, ema_update, make_teacher
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS
from selfsup.validate import check_positive


@METHODS.register(
    "byol",
    family="self-distillation",
    paper="Grill et al. 2020, Bootstrap Your Own Latent: A New Approach to "
    "Self-Supervised Learning",
)
class BYOL(Method):
    r"""BYOL (Grill et al. 2020).

    The online network (encoder :math:`f_\theta`, projector :math:`g_\theta`, predictor
    :math:`q_\theta`) predicts the target network's projection of the other view; the target
    (:math:`f_\xi, g_\xi`) is an exponential moving average of the online weights and gets
    no gradient (eq. 2 and the symmetrised loss of Section 3.1):

    .. math::
        \mathcal{L} = \| \bar q_\theta(z_\theta) - \bar z'_\xi \|_2^2
                    + \| \bar q_\theta(z'_\theta) - \bar z_\xi \|_2^2,
        \qquad \xi \leftarrow \tau \xi + (1 - \tau) \theta

    with :math:`\bar{\cdot}` the l2-normalisation, so each term is :math:`2 - 2\cos`.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
            The teacher is a deep copy made here: load pretrained weights into the encoder
            *before* building the method, or the teacher starts from the old weights.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]`` (BYOL's two augmentation
            distributions differ; a view maker may use the view index for that).
        projector_hidden_dim: hidden width of the projector :math:`g`.
        projector_dim: output width of projector and predictor.
        predictor_hidden_dim: hidden width of the predictor :math:`q`.
        momentum_base: :math:`\tau_{base}`; :math:`\tau` follows the cosine schedule
            :math:`1 - (1 - \tau_{base})(\cos(\pi k/K) + 1)/2` up to 1.

    Paper defaults vs. library defaults (Section 3.3, "Implementation details"):
        * projector and predictor: ``Linear(4096)-BN-ReLU-Linear(256)``. Library: hidden
          1024, output 256.
        * :math:`\tau_{base} = 0.996` for 1000 epochs at batch 4096. Library: 0.99, because
          short runs with few steps need a teacher that moves faster.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 1024,
        projector_dim: int = 256,
        predictor_hidden_dim: int = 1024,
        momentum_base: float = 0.99,
    ) -> None:
        super().__init__(encoder, views)
        if not 0.0 <= momentum_base <= 1.0:
            raise ValueError(f"momentum_base must be in [0, 1], got {momentum_base}")
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=2)
        self.predictor = MLP(projector_dim, predictor_hidden_dim, projector_dim, num_layers=2)
        # The target network: copies of encoder and projector, updated only by EMA.
        self.teacher_encoder = make_teacher(self.encoder)
        self.teacher_projector = make_teacher(self.projector)
        self.momentum_base = momentum_base
        self.momentum = momentum_base

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        # Online predictions q(g(f(v))) for both views.
        p1 = self.predictor(self.projector(self.encoder(v1["x"])))
        p2 = self.predictor(self.projector(self.encoder(v2["x"])))
        # Targets z' = g_xi(f_xi(v)), with the stop-gradient of the paper.
        with torch.no_grad():
            t1 = self.teacher_projector(self.teacher_encoder(v1["x"]))
            t2 = self.teacher_projector(self.teacher_encoder(v2["x"]))
        # Symmetric loss: each view's prediction regresses the other view's target.
        loss = byol_loss(p1, t2) + byol_loss(p2, t1)
        return {
            "loss": loss,
            "momentum": torch.tensor(self.momentum, device=loss.device),
        }

    def on_step_end(self, progress: float) -> None:
        """Set :math:`\\tau` from the cosine schedule, then move the teacher towards the student."""
        self.momentum = cosine_momentum(progress, self.momentum_base)
        ema_update(self.teacher_encoder, self.encoder, self.momentum)
        ema_update(self.teacher_projector, self.projector, self.momentum)


@METHODS.register(
    "simsiam",
    family="self-distillation",
    paper="Chen & He 2021, Exploring Simple Siamese Representation Learning",
)
class SimSiam(Method):
    r"""SimSiam (Chen & He 2021, CVPR).

    Both views go through the same encoder and projector :math:`f`; a predictor :math:`h`
    maps one view's projection onto the other's, which is a stop-gradient target — no
    negatives, no momentum encoder (eq. 4, Algorithm 1):

    .. math::
        \mathcal{L} = \tfrac12 \mathcal{D}(p_1, \mathrm{stopgrad}(z_2))
                    + \tfrac12 \mathcal{D}(p_2, \mathrm{stopgrad}(z_1)), \qquad
        \mathcal{D}(p, z) = -\frac{p}{\|p\|_2} \cdot \frac{z}{\|z\|_2}

    with :math:`z = f(x)`, :math:`p = h(z)`. Logs ``output_std``, the per-dimension standard
    deviation of the l2-normalised projections averaged over dimensions — the collapse
    monitor of Section 4.1: about :math:`1/\sqrt{d}` for well-spread outputs, 0 when
    collapsed.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: width of the projector's two hidden layers.
        projector_dim: :math:`d`, output width of projector and predictor.
        predictor_hidden_dim: the predictor's bottleneck width.

    Paper defaults vs. library defaults (Section 3, "Baseline settings"):
        * projector: 3 layers, hidden 2048 and output 2048, BN after every layer including
          the output (no ReLU there; an affine-free BN as in the released code). Library:
          same structure, hidden and output 1024 (half the width for a CPU budget).
        * predictor: ``Linear(512)-BN-ReLU-Linear(2048)``, a bottleneck of d/4. Library:
          256 for d = 1024 (the same ratio).
        * SGD, lr 0.05 x batch/256, weight decay 1e-4, batch 512, a fixed learning rate for
          the predictor; the engine chooses the optimiser and schedules all parameters alike
          (Table 1: fixed vs. decayed predictor lr is 68.1 vs. 67.7).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 1024,
        projector_dim: int = 1024,
        predictor_hidden_dim: int = 256,
    ) -> None:
        super().__init__(encoder, views)
        check_positive(projector_hidden_dim=projector_hidden_dim, projector_dim=projector_dim,
                        predictor_hidden_dim=predictor_hidden_dim)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=3,
                             last_batch_norm=True)
        self.predictor = MLP(projector_dim, predictor_hidden_dim, projector_dim, num_layers=2)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        z1 = self.projector(self.encoder(v1["x"]))
        z2 = self.projector(self.encoder(v2["x"]))
        p1, p2 = self.predictor(z1), self.predictor(z2)
        # Symmetrised loss; simsiam_loss detaches its target (the stop-gradient).
        loss = 0.5 * simsiam_loss(p1, z2) + 0.5 * simsiam_loss(p2, z1)
        with torch.no_grad():
            output_std = F.normalize(z1, dim=1).std(dim=0).mean()
        return {"loss": loss, "output_std": output_std}

"""BYOL: a predictor on one view regresses an EMA teacher's projection of the other.

SimSiam, the same pipeline without the teacher, is in :mod:`selfsup.methods.simsiam`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.losses.byol import byol_loss
from selfsup.methods.base import Method
from selfsup.nn.heads import MLP
from selfsup.nn.momentum_teacher import MomentumTeacher
from selfsup.registry import METHODS


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
        self.teacher = MomentumTeacher(
            {"encoder": self.encoder, "projector": self.projector}, momentum_base=momentum_base
        )

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        # Online predictions q(g(f(v))) for both views.
        p1 = self.predictor(self.projector(self.encoder(v1["x"])))
        p2 = self.predictor(self.projector(self.encoder(v2["x"])))
        # Targets z' = g_xi(f_xi(v)), with the stop-gradient of the paper (the teacher's).
        t1 = self.teacher(v1["x"])
        t2 = self.teacher(v2["x"])
        # Symmetric loss: each view's prediction regresses the other view's target.
        loss = byol_loss(p1, t2) + byol_loss(p2, t1)
        return {
            "loss": loss,
            "momentum": torch.tensor(self.teacher.momentum, device=loss.device),
        }

    def on_step_end(self, progress: float) -> None:
        """Set :math:`\\tau` from the cosine schedule, then move the teacher towards the student."""
        self.teacher.update(progress)

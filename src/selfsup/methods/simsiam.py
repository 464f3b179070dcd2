"""SimSiam: a predictor on one view regresses the other view's projection, under a stop-gradient.

No negatives and no teacher: BYOL without the EMA target network (:mod:`selfsup.methods.byol`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.losses.simsiam import simsiam_loss
from selfsup.methods.base import Method
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS
from selfsup.validate import check_positive


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

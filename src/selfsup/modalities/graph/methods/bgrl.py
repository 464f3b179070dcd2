"""BGRL: BYOL for graphs, node by node, without a projector."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.losses.byol import byol_loss
from selfsup.methods.base import Method
from selfsup.nn.momentum_teacher import MomentumTeacher
from selfsup.registry import METHODS
from selfsup.validate import check_int


@METHODS.register(
    "bgrl",
    family="self-distillation",
    paper="Thakoor et al. 2022, Large-Scale Representation Learning on Graphs via Bootstrapping",
    modality="graph",
    default_encoder="gcn",
    default_views="graph_augment",
)
class BGRL(Method):
    r"""Bootstrapped Graph Latents (Thakoor, Tallec, Azar, Azabou, Dyer, Munos, Veličković,
    Valko 2022).

    Two views of the graph (edges dropped and feature dimensions masked,
    :class:`~selfsup.modalities.graph.views.augment.GraphAugment`); the online encoder
    :math:`\mathcal E_\theta` and predictor :math:`p_\theta` predict, for each node, the target
    encoder's :math:`\mathcal E_\phi` embedding of the same node in the other view. The target
    is an exponential moving average of the online encoder and gets no gradient (Section 3,
    eq. 1 and its symmetrised form):

    .. math::
        \ell = \frac1N \sum_i \big(2 - 2\cos(\tilde Z_{(1,i)}, \tilde H_{(2,i)})\big)
             + \frac1N \sum_i \big(2 - 2\cos(\tilde Z_{(2,i)}, \tilde H_{(1,i)})\big),
        \qquad \phi \leftarrow \tau \phi + (1 - \tau) \theta

    with :math:`\tilde Z_{(k)} = p_\theta(\mathcal E_\theta(\tilde G_k))` and
    :math:`\tilde H_{(k)} = \mathcal E_\phi(\tilde G_k)`; :math:`\tau` follows a cosine schedule
    from ``momentum_base`` to 1 (:class:`~selfsup.nn.momentum_teacher.MomentumTeacher`, updated
    in :meth:`on_step_end`). Unlike BYOL there is no projector: the predictor reads the
    encoder's embedding. The sum is over the batch's nodes (``g.nodes``; message passing uses
    every node of the graph). The method uses only ``encoder(g)``, so it runs on graph-level
    batches too (one embedding per graph).

    Args:
        encoder: any graph encoder mapping a :class:`Graphs` to ``[B, D]`` with ``output_dim``.
            The target is a deep copy made here: load pretrained weights into the encoder
            *before* building the method.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]`` (``graph_augment``: a rate
            per view).
        predictor_hidden_dim: hidden width of the predictor ``Linear-PReLU-Linear``.
        momentum_base: :math:`\tau` at the start of training, in ``[0, 1]``; it rises to 1.

    Paper defaults vs. library defaults (Section 4 and Appendix, the authors' code):
        * predictor: one hidden layer of 512 with PReLU, output = embedding width. Library: the
          same.
        * :math:`\tau_{base} = 0.99`, cosine schedule to 1. Library: the same.
        * target initialised independently of the online network (the authors' code re-draws
          its weights). Library: a copy of the online encoder, as BYOL does.
        * loss: the authors' code takes :math:`2 - \cos_{1\to2} - \cos_{2\to1}`, half of the
          sum above; a constant factor that Adam's step ignores.
        * encoder: 2-layer GCN with batch norm and PReLU (hidden 256 or 512, embedding 128 or
          256, per graph); per-data-set feature-mask and edge-drop rates per view; 10,000 epochs of full
          batches, Adam with warm-up and cosine decay. Library: the ``gcn`` encoder (256-256,
          PReLU, no batch norm), the ``graph_augment`` rates (GRACE's Cora rates), the batch's
          nodes per step, the trainer's optimiser.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        predictor_hidden_dim: int = 512,
        momentum_base: float = 0.99,
    ) -> None:
        super().__init__(encoder, views)
        check_int(predictor_hidden_dim, "predictor_hidden_dim")
        if isinstance(momentum_base, bool) or not isinstance(momentum_base, (int, float)) \
                or not 0.0 <= momentum_base <= 1.0:
            raise ValueError(f"momentum_base must be in [0, 1], got {momentum_base!r}")
        self.predictor = nn.Sequential(
            nn.Linear(self.embed_dim, predictor_hidden_dim),
            nn.PReLU(1),
            nn.Linear(predictor_hidden_dim, self.embed_dim),
        )
        # The target network: a copy of the encoder, moved only by EMA (saved in state_dict).
        self.teacher = MomentumTeacher({"encoder": self.encoder}, momentum_base=momentum_base)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        # Online predictions p(E_theta(view)) of the batch's nodes, in both views.
        p1 = self.predictor(self.encoder(v1["x"]))
        p2 = self.predictor(self.encoder(v2["x"]))
        # Targets E_phi(view), without gradient (the teacher's stop-gradient).
        t1 = self.teacher(v1["x"])
        t2 = self.teacher(v2["x"])
        # Each view's prediction regresses the other view's target.
        loss = byol_loss(p1, t2) + byol_loss(p2, t1)
        return {"loss": loss, "momentum": torch.tensor(self.teacher.momentum, device=loss.device)}

    def on_step_end(self, progress: float) -> None:
        """Set :math:`\\tau` from the cosine schedule, then move the target towards the encoder."""
        self.teacher.update(progress)

"""SwAV: online cluster codes from Sinkhorn–Knopp on the batch, predicted across views.

The clustering methods that keep per-sample state over the whole data set (SeLa,
DeepCluster-v2) are in :mod:`selfsup.methods.sela` and :mod:`selfsup.methods.deepcluster_v2`;
SwAV needs none: its codes come from the current batch (and, optionally, a queue of recent
batches).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.losses.swav import swav_loss
from selfsup.methods.base import Method
from selfsup.nn.gather import rank, world_size
from selfsup.nn.heads import MLP
from selfsup.nn.queue import Queue
from selfsup.nn.sinkhorn import sinkhorn
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_positive_number


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction of training in [0, 1], got {value!r}")
    return float(value)


@METHODS.register(
    "swav",
    family="clustering",
    paper="Caron et al. 2020, Unsupervised Learning of Visual Features by Contrasting Cluster "
    "Assignments",
)
class SwAV(Method):
    r"""SwAV (Caron, Misra, Mairal, Goyal, Bojanowski, Joulin 2020).

    Every view is projected and l2-normalised, :math:`z = g(f(x)) / \|g(f(x))\|`, and scored
    against :math:`K` l2-normalised prototypes :math:`C`. The codes :math:`Q` of the global
    views are computed online by Sinkhorn–Knopp on the batch scores :math:`C^\top Z`
    (eq. 3–5: equal partition of the batch among the prototypes, entropy weight
    :math:`\varepsilon`, no gradient), and each code is predicted from the other views
    (swapped prediction, eq. 1–2, averaged as in :func:`~selfsup.losses.swav.swav_loss`):

    .. math::
        \ell(z_t, q_s) = -\sum_k q_s^{(k)} \log
            \frac{\exp(z_t^\top c_k / \tau)}{\sum_{k'} \exp(z_t^\top c_{k'} / \tau)}

    Multi-crop (Section 3.2): the method asks the view maker for
    ``num_global_views + num_local_views`` views; codes are computed for the first
    ``num_global_views`` only, and every view predicts them. Which views are large or small
    crops is the view maker's business (``views: multicrop`` with a matching
    ``num_global_views``); any view maker works.

    Details of the official ``main_swav.py`` kept here: prototypes are re-normalised before
    every training step; they receive no update during the first ``freeze_prototypes`` of
    training; with ``queue_length > 0`` the projections of the global views of recent batches
    are stored (one queue per global view, identical on all processes) from ``queue_start``
    on, and once a queue is full its scores join the batch in the Sinkhorn problem, so small
    batches still spread over many prototypes (the paper's small-batch setting: batch 256,
    queue 3840 from epoch 15).

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker; ``views(batch, num_global_views + num_local_views)``.
        projector_hidden_dim: hidden width of the projector :math:`g`.
        projector_dim: width of :math:`z` and of the prototypes.
        num_prototypes: :math:`K`.
        temperature: :math:`\tau` of the swapped prediction.
        epsilon: :math:`\varepsilon` of Sinkhorn–Knopp.
        sinkhorn_iterations: Sinkhorn–Knopp steps.
        num_global_views: views that get codes (and fill the queue).
        num_local_views: further views that only predict.
        freeze_prototypes: fraction of training during which the prototypes are not updated.
        queue_length: projections kept per global view (0: no queue).
        queue_start: fraction of training after which the queue starts filling.

    Paper defaults vs. library defaults:
        * projector 2048-BN-ReLU-128, :math:`K = 3000`, :math:`\tau = 0.1`,
          :math:`\varepsilon = 0.05`, 3 Sinkhorn iterations (Section 4 / Appendix A.1 and the
          official ``swav_800ep_pretrain.sh``). Library: hidden 512, output 128, :math:`K = 100`:
          3000 prototypes for 1,437 digits would leave most prototypes without samples
          (ImageNet has ~430 images per prototype; here a batch of 256 spreads over 100).
        * multi-crop 2 × 224 + 6 × 96 (Section 3.2). Library: 2 global views and no local
          views, because the modality's default view maker makes full-size views only; ask
          ``views: multicrop`` and ``num_local_views`` for multi-crop (see the digits recipe).
        * prototypes frozen for the first epoch (``freeze_prototypes_niters``, Appendix A.1).
          Library: a fraction of training, 0.02 (one epoch of the 60-epoch digits recipe),
          since a method does not know how many steps an epoch has.
        * queue of 3840 from epoch 15 for batches of 256 with :math:`K = 3000`. Library: off
          (0): a batch of 256 already covers :math:`K = 100`.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        num_prototypes: int = 100,
        temperature: float = 0.1,
        epsilon: float = 0.05,
        sinkhorn_iterations: int = 3,
        num_global_views: int = 2,
        num_local_views: int = 0,
        freeze_prototypes: float = 0.02,
        queue_length: int = 0,
        queue_start: float = 0.1,
    ) -> None:
        super().__init__(encoder, views)
        self.temperature = check_positive_number(temperature, "temperature")
        self.epsilon = check_positive_number(epsilon, "epsilon")
        self.sinkhorn_iterations = check_int(sinkhorn_iterations, "sinkhorn_iterations")
        self.num_global_views = check_int(num_global_views, "num_global_views")
        self.num_local_views = check_int(num_local_views, "num_local_views", minimum=0)
        if self.num_global_views + self.num_local_views < 2:
            raise ValueError("SwAV needs at least 2 views (num_global_views + num_local_views), "
                             f"got {num_global_views} + {num_local_views}")
        self.freeze_prototypes = _fraction(freeze_prototypes, "freeze_prototypes")
        self.queue_start = _fraction(queue_start, "queue_start")
        check_int(queue_length, "queue_length", minimum=0)
        self.projector = MLP(self.embed_dim, check_int(projector_hidden_dim, "projector_hidden_dim"),
                             check_int(projector_dim, "projector_dim"), num_layers=2)
        self.prototypes = nn.Linear(projector_dim, check_int(num_prototypes, "num_prototypes"),
                                    bias=False)
        self._normalize_prototypes()
        self.queues = nn.ModuleList(
            [Queue(queue_length, projector_dim) for _ in range(num_global_views)] if queue_length else []
        )
        # Fraction of training done, saved with the checkpoint so a resumed run freezes and
        # queues exactly as the uninterrupted one.
        self.register_buffer("progress", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def _normalize_prototypes(self) -> None:
        weight = self.prototypes.weight
        weight.copy_(F.normalize(weight, dim=1))

    def _prototype_weight(self) -> Tensor:
        weight = self.prototypes.weight
        if float(self.progress) < self.freeze_prototypes:
            # Frozen: zero gradient rather than none, because DDP expects a gradient for every
            # parameter; the prototypes are re-normalised anyway, so weight decay is undone.
            return weight.detach() + 0.0 * weight
        return weight

    @torch.no_grad()
    def _codes(self, scores: Tensor, view: int) -> Tensor:
        """Sinkhorn codes ``[B, K]`` of this process's rows of one global view."""
        queue = self.queues[view] if len(self.queues) else None
        if queue is None or len(queue) < queue.size:
            return sinkhorn(scores, self.epsilon, self.sinkhorn_iterations)
        # Every process holds the same queue: each contributes a disjoint share of its rows so
        # that the distributed Sinkhorn counts every queued sample once.
        shared = queue.values()[rank() :: world_size()]
        queued_scores = shared @ self.prototypes.weight.T
        # float(): under mixed precision the batch scores may be half while the queue is not.
        codes = sinkhorn(torch.cat([queued_scores.float(), scores.float()]), self.epsilon,
                         self.sinkhorn_iterations)
        return codes[-scores.shape[0] :]

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        views = self.views(batch, self.num_global_views + self.num_local_views)
        if self.training:
            self._normalize_prototypes()
        weight = self._prototype_weight()
        z = [F.normalize(self.projector(self.encoder(v["x"])), dim=1) for v in views]
        scores = [zv @ weight.T for zv in z]  # cosine similarity to every prototype, [B, K]
        codes = [self._codes(scores[s].detach(), s) for s in range(self.num_global_views)]
        loss = swav_loss(scores, codes, self.temperature)
        if self.training and len(self.queues) and float(self.progress) >= self.queue_start:
            for s, queue in enumerate(self.queues):
                queue.enqueue(z[s].detach())
        # How many prototypes the codes use (exp of the entropy of their mean): collapse shows
        # up as a value near 1.
        usage = torch.stack(codes).mean(dim=(0, 1))
        used = torch.exp(-(usage * usage.clamp_min(1e-12).log()).sum())
        return {"loss": loss, "prototypes_used": used.detach()}

    def on_step_end(self, progress: float) -> None:
        self.progress.fill_(float(progress))

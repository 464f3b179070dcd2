"""MoCo v2: a query must pick its momentum-encoder key among a queue of earlier batches' keys.

MoCo v3 (no queue, keys from the batch) is in :mod:`selfsup.methods.moco_v3`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.losses.moco import moco_infonce
from selfsup.methods.base import Method
from selfsup.methods.checks import check_positive_int, check_temperature, warn_if_queue_covers_data
from selfsup.nn.heads import MLP
from selfsup.nn.momentum_teacher import MomentumTeacher
from selfsup.nn.queue import Queue
from selfsup.registry import METHODS


@METHODS.register(
    "moco_v2",
    family="contrastive",
    paper="Chen et al. 2020, Improved Baselines with Momentum Contrastive Learning "
    "(MoCo v2; He et al. 2020, Momentum Contrast for Unsupervised Visual Representation Learning)",
)
class MoCoV2(Method):
    r"""MoCo v2 (Chen, Fan, Girshick, He 2020) = MoCo (He et al. 2020) + MLP head + blur.

    A query :math:`q = g(f(x_1))` must identify its key :math:`k_+ = g_k(f_k(x_2))`, computed
    by a momentum copy of encoder and head, among the ``K`` keys of earlier batches kept in a
    FIFO queue (MoCo eq. 1 and Algorithm 1):

    .. math::
        \mathcal{L}_q = -\log \frac{\exp(q \cdot k_+ / \tau)}
            {\exp(q \cdot k_+ / \tau) + \sum_{i=1}^{K} \exp(q \cdot k_i / \tau)},
        \qquad \theta_k \leftarrow m \theta_k + (1 - m) \theta_q

    after which the batch's keys are enqueued and the oldest dequeued.

    **Shuffling BN is not used.** MoCo shuffles the key batch across GPUs (Section 3.3) so
    that a query and its positive key do not share the BatchNorm statistics of one small
    per-GPU sub-batch, a signature the model can use to spot the positive among queued keys
    from other batches. Here, on one process both the query and the key batch are
    normalised with statistics of the whole batch (256 on digits), which vary little from
    batch to batch; on several GPUs the engine converts BatchNorm to SyncBatchNorm, so the
    statistics are again those of the whole global batch, as MoCo v3 does. (Several CPU
    processes keep per-process statistics, because torch has no CPU SyncBatchNorm; that is
    the setting in which the leak can come back.) Shuffling needs the modality-specific
    batch layout, which a method never touches.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
            The momentum encoder is a deep copy made here: load pretrained weights first.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: hidden width of the MLP head :math:`g`.
        projector_dim: output width of :math:`g` (the key width).
        temperature: :math:`\tau`.
        queue_size: :math:`K`, number of negative keys kept.
        momentum_base: :math:`m` at the start; it follows BYOL's cosine schedule up to 1.
        symmetric: also contrast view 2's query with view 1's key and average the two
            losses. Only view 2's keys are enqueued, so the queue holds ``K`` distinct samples.

    Paper defaults vs. library defaults:
        * head: ``fc(2048)-ReLU-fc(128)`` without BatchNorm (MoCo v2, Section 2 "MLP head").
          Library: hidden 512, output 128, no BatchNorm.
        * :math:`\tau = 0.2`, the best value with the MLP head (MoCo v2, Section 2 "MLP
          head"; MoCo used 0.07). Library: the same.
        * :math:`K = 65536` keys on ImageNet's 1.28 M images (MoCo, Section 4), i.e. 5 % of the
          data set. Library: 512. The queue must stay well below the data-set size, or it
          holds stale keys of the current batch's own samples as negatives (a query pushed
          away from an older version of itself). On digits (1,437 samples, 5 batches of 256
          per epoch) a queue of 512 = the 2 previous batches, and about 11 % of queries find
          an older key of themselves in it, against 36 % for 1,024; 512 negatives is still
          twice the batch. :meth:`prepare` warns when ``K`` reaches the data-set size.
        * :math:`m = 0.999`, constant (MoCo, Section 4.1). Library: 0.99 rising to 1 with the
          cosine schedule of BYOL/MoCo v3: a run of a few hundred steps needs a key encoder
          that follows the query encoder faster.
        * the loss is one-directional in MoCo v2. Library: symmetrised (as MoCo v3 does),
          which doubles the signal per step of a short run for one more key pass;
          ``symmetric=False`` gives the paper's loss.
        * SGD lr 0.03, batch 256, 200 epochs, cosine schedule; the engine chooses the
          optimiser. Augmentation: SimCLR's plus blur (``simclr`` views).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        temperature: float = 0.2,
        queue_size: int = 512,
        momentum_base: float = 0.99,
        symmetric: bool = True,
    ) -> None:
        super().__init__(encoder, views)
        check_positive_int(projector_hidden_dim, "projector_hidden_dim")
        check_positive_int(projector_dim, "projector_dim")
        self.queue_size = check_positive_int(queue_size, "queue_size")
        self.temperature = check_temperature(temperature)
        if not isinstance(symmetric, bool):
            raise ValueError(f"symmetric must be true or false, got {symmetric!r}")
        self.symmetric = symmetric
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=2,
                             batch_norm=False)
        # The momentum encoder: EMA copies of encoder and projector, no gradient.
        self.teacher = MomentumTeacher(
            {"encoder": self.encoder, "projector": self.projector}, momentum_base=momentum_base
        )
        self.queue = Queue(queue_size, projector_dim)

    def prepare(self, num_samples: int) -> None:
        warn_if_queue_covers_data("moco_v2", "queue_size", self.queue_size, num_samples,
                                   "stale positives counted as negatives")

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        # Queries q = g(f(x_q)); keys k = g_k(f_k(x_k)) with no gradient (Algorithm 1).
        q1 = self.projector(self.encoder(v1["x"]))
        k2 = F.normalize(self.teacher(v2["x"]), dim=1)
        negatives = self.queue.values()
        loss = moco_infonce(q1, k2, negatives, self.temperature)
        if self.symmetric:
            q2 = self.projector(self.encoder(v2["x"]))
            k1 = F.normalize(self.teacher(v1["x"]), dim=1)
            loss = 0.5 * (loss + moco_infonce(q2, k1, negatives, self.temperature))
        positive_cosine = F.cosine_similarity(q1, k2, dim=-1).mean().detach()
        if self.training:
            # enqueue(queue, k); the oldest keys fall out.
            self.queue.enqueue(k2)
        return {
            "loss": loss,
            "positive_cosine": positive_cosine,
            "momentum": torch.tensor(self.teacher.momentum, device=loss.device),
        }

    def on_step_end(self, progress: float) -> None:
        """Momentum from BYOL's cosine schedule, then ``key = m key + (1 - m) query`` weights."""
        self.teacher.update(progress)

"""Contrastive methods with a momentum encoder or a queue: MoCo v2, MoCo v3, NNCLR."""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.losses.momentum_contrast import moco_infonce, moco_v3_loss, nnclr_loss
from selfsup.methods.base import Method
from selfsup.nn.ema import cosine_momentum, ema_update, make_teacher
from selfsup.nn.heads import MLP
from selfsup.nn.queue import Queue
from selfsup.registry import METHODS


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_temperature(temperature: float) -> float:
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return float(temperature)


def _check_momentum(momentum_base: float) -> float:
    if not (isinstance(momentum_base, (int, float)) and 0.0 <= momentum_base <= 1.0):
        raise ValueError(f"momentum_base must be in [0, 1], got {momentum_base!r}")
    return float(momentum_base)


def _warn_if_queue_covers_data(
    name: str, key: str, queue_size: int, num_samples: int, what: str
) -> None:
    # A queue at least as long as the data set holds an older copy of every sample of the
    # current batch: for MoCo a stale duplicate of the positive among the negatives, for NNCLR
    # a "neighbour" that is the sample itself.
    if queue_size >= num_samples:
        warnings.warn(
            f"{name}: {key}={queue_size} >= the {num_samples} training samples, so the queue "
            f"holds an older copy of every sample of the current batch ({what}). Set {key} "
            f"well below the data-set size (e.g. {max(1, num_samples // 3)}).",
            stacklevel=3,
        )


class _MomentumEncoder(Method):
    """Shared part of MoCo v2/v3: EMA copies of encoder and projector, cosine momentum."""

    projector: nn.Module

    def _init_momentum(self, momentum_base: float) -> None:
        # Copies are made after the projector exists; they get no gradient (make_teacher).
        self.momentum_encoder = make_teacher(self.encoder)
        self.momentum_projector = make_teacher(self.projector)
        self.momentum_base = momentum_base
        self.momentum = momentum_base

    @torch.no_grad()
    def _keys(self, x: Any) -> torch.Tensor:
        return self.momentum_projector(self.momentum_encoder(x))

    def on_step_end(self, progress: float) -> None:
        """Momentum from BYOL's cosine schedule, then ``key = m key + (1 - m) query`` weights."""
        self.momentum = cosine_momentum(progress, self.momentum_base)
        ema_update(self.momentum_encoder, self.encoder, self.momentum)
        ema_update(self.momentum_projector, self.projector, self.momentum)


@METHODS.register(
    "moco_v2",
    family="contrastive",
    paper="Chen et al. 2020, Improved Baselines with Momentum Contrastive Learning "
    "(MoCo v2; He et al. 2020, Momentum Contrast for Unsupervised Visual Representation Learning)",
)
class MoCoV2(_MomentumEncoder):
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
        _positive_int(projector_hidden_dim, "projector_hidden_dim")
        _positive_int(projector_dim, "projector_dim")
        self.queue_size = _positive_int(queue_size, "queue_size")
        self.temperature = _check_temperature(temperature)
        if not isinstance(symmetric, bool):
            raise ValueError(f"symmetric must be true or false, got {symmetric!r}")
        self.symmetric = symmetric
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=2,
                             batch_norm=False)
        self._init_momentum(_check_momentum(momentum_base))
        self.queue = Queue(queue_size, projector_dim)

    def prepare(self, num_samples: int) -> None:
        _warn_if_queue_covers_data("moco_v2", "queue_size", self.queue_size, num_samples,
                                   "stale positives counted as negatives")

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        # Queries q = g(f(x_q)); keys k = g_k(f_k(x_k)) with no gradient (Algorithm 1).
        q1 = self.projector(self.encoder(v1["x"]))
        k2 = F.normalize(self._keys(v2["x"]), dim=1)
        negatives = self.queue.values()
        loss = moco_infonce(q1, k2, negatives, self.temperature)
        if self.symmetric:
            q2 = self.projector(self.encoder(v2["x"]))
            k1 = F.normalize(self._keys(v1["x"]), dim=1)
            loss = 0.5 * (loss + moco_infonce(q2, k1, negatives, self.temperature))
        positive_cosine = F.cosine_similarity(q1, k2, dim=-1).mean().detach()
        if self.training:
            # enqueue(queue, k); the oldest keys fall out.
            self.queue.enqueue(k2)
        return {
            "loss": loss,
            "positive_cosine": positive_cosine,
            "momentum": torch.tensor(self.momentum, device=loss.device),
        }


@METHODS.register(
    "moco_v3",
    family="contrastive",
    paper="Chen, Xie, He 2021, An Empirical Study of Training Self-Supervised Vision Transformers",
    view_style="asymmetric",
)
class MoCoV3(_MomentumEncoder):
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
    (:func:`selfsup.losses.momentum_contrast.moco_v3_contrastive`).
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
            _positive_int(value, name)
        self.temperature = _check_temperature(temperature)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim,
                             num_layers=projector_layers, last_batch_norm=True)
        # The official code ends both heads with a BatchNorm without affine parameters.
        self.predictor = MLP(projector_dim, predictor_hidden_dim, projector_dim, num_layers=2,
                             last_batch_norm=True)
        self._init_momentum(_check_momentum(momentum_base))

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        # Queries q = predictor(projector(base_encoder(x))).
        q1 = self.predictor(self.projector(self.encoder(v1["x"])))
        q2 = self.predictor(self.projector(self.encoder(v2["x"])))
        # Keys from the momentum encoder, no gradient.
        k1 = self._keys(v1["x"])
        k2 = self._keys(v2["x"])
        loss = moco_v3_loss(q1, q2, k1, k2, self.temperature)
        positive_cosine = F.cosine_similarity(q1, k2, dim=-1).mean().detach()
        return {
            "loss": loss,
            "positive_cosine": positive_cosine,
            "momentum": torch.tensor(self.momentum, device=loss.device),
        }


@METHODS.register(
    "nnclr",
    family="contrastive",
    paper="Dwibedi et al. 2021, With a Little Help from My Friends: Nearest-Neighbor "
    "Contrastive Learning of Visual Representations",
    view_style="asymmetric",
)
class NNCLR(Method):
    r"""NNCLR (Dwibedi, Aytar, Tompson, Sermanet, Zisserman 2021).

    The positive of a view is not the other view of the same sample but the nearest
    neighbour of its projection in a support set :math:`Q` of projections from earlier
    batches (a FIFO queue); it must pick the other view's prediction among the global
    batch's (eq. 2, with the predictor of Section 3.2, symmetrised):

    .. math::
        \mathcal{L}_i = -\log \frac{\exp(\mathrm{NN}(z_i, Q) \cdot p^+_i / \tau)}
            {\sum_{k=1}^{N} \exp(\mathrm{NN}(z_i, Q) \cdot p^+_k / \tau)},
        \qquad z = g(f(x)),\ p = h(z)

    No momentum encoder; gradients flow through the predictions only (the neighbours are
    stored, detached projections). View 1's projections are enqueued after each step.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2)`` (the paper uses BYOL's augmentations).
        projector_hidden_dim: hidden width of the 3-layer projector :math:`g`.
        projector_dim: output width of :math:`g` and :math:`h`.
        predictor_hidden_dim: hidden width of the predictor :math:`h`.
        temperature: :math:`\tau`.
        support_set_size: :math:`|Q|`.

    Paper defaults vs. library defaults (Section 4, "Implementation details"):
        * projector ``[2048, 2048, 256]`` with BN after every layer; predictor ``[4096, 256]``.
          Library: hidden 1024 for both, output 256.
        * :math:`\tau = 0.1`. Library: the same.
        * :math:`|Q| = 98304` (about 8 % of ImageNet). Library: 512. A support set as large as
          the data set contains an older projection of the sample itself, whose neighbour is
          then most likely itself (NNCLR degrades to SimCLR with a stale positive); on digits
          (1,437 samples) 512 projections (~50 per class) are enough to offer other samples
          of the same class, and about 11 % of samples find an older copy of themselves in
          them. :meth:`prepare` warns when :math:`|Q|` reaches the data-set size.
        * batch 4096, LARS, 1000 epochs; BYOL's augmentations (this method's image views).
          Public reimplementations start ``Q`` with random vectors; here the first step
          (empty support set) uses each projection as its own neighbour instead.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 1024,
        projector_dim: int = 256,
        predictor_hidden_dim: int = 1024,
        temperature: float = 0.1,
        support_set_size: int = 512,
    ) -> None:
        super().__init__(encoder, views)
        for value, name in ((projector_hidden_dim, "projector_hidden_dim"),
                            (projector_dim, "projector_dim"),
                            (predictor_hidden_dim, "predictor_hidden_dim")):
            _positive_int(value, name)
        self.support_set_size = _positive_int(support_set_size, "support_set_size")
        self.temperature = _check_temperature(temperature)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=3,
                             last_batch_norm=True, last_affine=True)
        self.predictor = MLP(projector_dim, predictor_hidden_dim, projector_dim, num_layers=2)
        self.support_set = Queue(support_set_size, projector_dim)

    def prepare(self, num_samples: int) -> None:
        _warn_if_queue_covers_data("nnclr", "support_set_size", self.support_set_size,
                                   num_samples, "its own stale projection is its neighbour")

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        z1 = self.projector(self.encoder(v1["x"]))
        z2 = self.projector(self.encoder(v2["x"]))
        p1 = self.predictor(z1)
        p2 = self.predictor(z2)
        loss = nnclr_loss(z1, z2, p1, p2, self.support_set.values(), self.temperature)
        positive_cosine = F.cosine_similarity(z1, z2, dim=-1).mean().detach()
        if self.training:
            self.support_set.enqueue(F.normalize(z1.detach(), dim=1))
        return {"loss": loss, "positive_cosine": positive_cosine}

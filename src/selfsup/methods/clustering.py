"""Clustering methods with per-sample state: pseudo-labels or a memory bank of the data set.

* SeLa — pseudo-labels of the whole data set from an equipartition transport problem.
* DeepCluster-v2 — spherical k-means of last epoch's features, centroids as fixed prototypes.

(SwAV, whose codes come from the batch alone, is in :mod:`selfsup.methods.swav`; it is
importable from here too.)

SeLa and DeepCluster-v2 keep per-sample state indexed by ``batch["index"]`` (a memory bank,
labels). The buffers are created in :meth:`~selfsup.methods.base.Method.prepare`, so they are
checkpointed and resumed, and every process writes the rows of *every* process's batch
(gathered first), so the banks are identical on all processes and any of them can
re-cluster the whole data set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.losses.clustering import pseudo_label_loss
from selfsup.methods.base import Method
from selfsup.methods.swav import SwAV
from selfsup.nn.gather import gather, is_distributed
from selfsup.nn.heads import MLP
from selfsup.nn.kmeans import spherical_kmeans
from selfsup.nn.sinkhorn import equipartition_labels
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_positive_number

__all__ = ["DeepClusterV2", "SeLa", "SwAV"]


def _sample_index(batch: dict[str, Any], method: str) -> Tensor:
    if "index" not in batch:
        raise KeyError(f"{method} keeps per-sample state and needs batch['index'] (the position of "
                       "each sample in the training set); the built-in data loaders provide it.")
    return batch["index"]


@torch.no_grad()
def _gather_rows(index: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """(index, values) of every process's batch, in rank order (identical on every rank)."""
    return gather(index.detach()), gather(values.detach())


def _broadcast_from_first(*tensors: Tensor) -> None:
    # Every rank re-clusters the same replicated bank with the same seed, so the results agree;
    # broadcasting rank 0's copy makes that exact whatever the hardware's reduction order.
    if is_distributed():
        for tensor in tensors:
            dist.broadcast(tensor, src=0)


# --------------------------------------------------------------------------------- SeLa


@METHODS.register(
    "sela",
    family="clustering",
    paper="Asano, Rupprecht, Vedaldi 2020, Self-labelling via simultaneous clustering and "
    "representation learning",
)
class SeLa(Method):
    r"""SeLa, self-labelling (Asano, Rupprecht, Vedaldi 2020, ICLR).

    A classification head :math:`h` on the encoder gives :math:`p(y \mid x_i) =
    \operatorname{softmax}(h(f(x_i)))`; the network is trained by cross-entropy to labels
    :math:`y_i` of the *whole* data set, and the labels are re-optimised a fixed number of
    times during training by solving (eq. 5–7)

    .. math::
        \min_{Q \in U(r, c)} \langle Q, -\log P \rangle + \frac{1}{\lambda} \mathrm{KL}(Q \,\|\, r c^\top),
        \qquad Q = \operatorname{diag}(\alpha)\, P^\lambda \operatorname{diag}(\beta)

    with :math:`U` the equipartition polytope (each of the :math:`K` clusters gets
    :math:`N / K` samples); see :func:`~selfsup.nn.sinkhorn.equipartition_labels`. With
    several heads (Section 3.3) each has its own clusters and labels and the loss is the mean
    of their cross-entropies.

    The method never sees the data set, so it cannot make the paper's full forward pass at
    each label update. Instead it keeps a memory bank of every sample's encoder output
    :math:`f(x_i)` from the last training step that saw it (``[N, D]``, written from the
    gathered batches of all processes) and, at each scheduled update, applies the *current*
    heads to the bank. The bank is stale by at most about an epoch and was computed on
    augmented views; that is acceptable because labels are re-solved only every few epochs
    (a label set is itself used for that long), the network moves little within an epoch
    late in training, and the paper already computes :math:`P` with the training
    augmentations (its ``pseudo_loader`` is the training loader). Storing features rather
    than probabilities is what the official code does with several heads (``PS_pre``).
    A sample not yet seen keeps its previous label; the first update waits until the bank has
    been filled once (as many samples seen as the data set holds).

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker; ``views(batch, num_views)``.
        num_clusters: :math:`K` per head.
        num_heads: number of clustering heads.
        lam: :math:`\lambda`, inverse entropy weight of the transport problem.
        num_label_updates: label optimisations over training, at progress
            :math:`(i / M)^2, i = 0 \dots M-1` (the official quadratic spacing: frequent early).
        num_views: augmented views per sample and step (each trained on the sample's label).

    Paper defaults vs. library defaults (the paper's experiments and the official
    ``main.py``: ``--ncl 3000 --lamb 25 --nopts 100 --epochs 200 --hc 1``):
        * :math:`K = 3000`, :math:`\lambda = 25`, linear heads on the penultimate features;
          1 head by default, 10 for the best AlexNet ("SeLa [3k × 10]"). Library:
          :math:`K = 30` and 1 head: 3000 clusters of 1,437 digits would be near-empty.
        * 100 label optimisations over 200 epochs, spaced quadratically. Library: 30 over
          the run, spaced the same way.
        * one augmentation per image and step. Library: 1.
        * labels start as a random equipartition (as in the official code).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        num_clusters: int = 30,
        num_heads: int = 1,
        lam: float = 25.0,
        num_label_updates: int = 30,
        num_views: int = 1,
    ) -> None:
        super().__init__(encoder, views)
        self.num_clusters = check_int(num_clusters, "num_clusters", minimum=2)
        self.num_heads = check_int(num_heads, "num_heads")
        self.lam = check_positive_number(lam, "lam")
        self.num_label_updates = check_int(num_label_updates, "num_label_updates")
        self.num_views = check_int(num_views, "num_views")
        self.heads = nn.ModuleList(nn.Linear(self.embed_dim, num_clusters) for _ in range(num_heads))
        self.num_samples = 0
        # Per-sample state, sized by prepare(num_samples).
        self.register_buffer("features", torch.zeros(0, self.embed_dim))
        self.register_buffer("seen", torch.zeros(0, dtype=torch.bool))
        self.register_buffer("labels", torch.zeros(num_heads, 0, dtype=torch.long))
        self.register_buffer("samples_seen", torch.zeros((), dtype=torch.long))
        self.register_buffer("label_updates_done", torch.zeros((), dtype=torch.long))

    def prepare(self, num_samples: int) -> None:
        """Create the feature bank ``[N, D]`` and labels ``[heads, N]`` (a random equipartition)."""
        n = check_int(num_samples, "num_samples")
        self.num_samples = n
        device = self.labels.device
        generator = torch.Generator().manual_seed(0)  # same labels on every process
        labels = torch.stack([
            (torch.arange(n) % self.num_clusters)[torch.randperm(n, generator=generator)]
            for _ in range(self.num_heads)
        ])
        self.features = torch.zeros(n, self.embed_dim, device=device)
        self.seen = torch.zeros(n, dtype=torch.bool, device=device)
        self.labels = labels.to(device)
        self.samples_seen.zero_()
        self.label_updates_done.zero_()

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        if self.num_samples == 0:
            raise RuntimeError("SeLa keeps labels for the whole data set: call "
                               "method.prepare(num_samples) before training.")
        index = _sample_index(batch, "SeLa")
        views = self.views(batch, self.num_views)
        h = [self.encoder(v["x"]) for v in views]
        logits = [torch.cat([head(hv) for hv in h]) for head in self.heads]  # per head [V*B, K]
        targets = [self.labels[k, index].repeat(self.num_views) for k in range(self.num_heads)]
        loss = pseudo_label_loss(logits, targets)
        if self.training:
            self._remember(index, torch.stack(h).mean(dim=0))
        accuracy = (logits[0].argmax(dim=1) == targets[0]).float().mean()
        return {"loss": loss, "label_accuracy": accuracy.detach()}

    @torch.no_grad()
    def _remember(self, index: Tensor, features: Tensor) -> None:
        index, features = _gather_rows(index, features)
        index = index.to(self.features.device)
        self.features[index] = features.to(self.features)
        self.seen[index] = True
        self.samples_seen += index.numel()

    def _scheduled_updates(self, progress: float) -> int:
        """How many of the M update points ``(i / M)^2`` lie at or before ``progress``."""
        return sum((i / self.num_label_updates) ** 2 <= progress for i in range(self.num_label_updates))

    def on_step_end(self, progress: float) -> None:
        """Re-solve the labels when a scheduled update point has passed (once the bank is full)."""
        due = self._scheduled_updates(progress)
        warm = self.num_samples > 0 and int(self.samples_seen) >= self.num_samples
        if warm and int(self.label_updates_done) < due:
            self.update_labels()
            self.label_updates_done.fill_(due)  # points passed together are solved once

    @torch.no_grad()
    def update_labels(self) -> None:
        """Solve the equipartition labels of every seen sample from the bank, for every head."""
        seen = self.seen.nonzero().squeeze(1)
        if seen.numel() < self.num_clusters:
            return
        for k, head in enumerate(self.heads):
            log_probs = F.log_softmax(head(self.features[seen]).float(), dim=1)
            self.labels[k, seen] = equipartition_labels(log_probs, lam=self.lam)
        _broadcast_from_first(self.labels)


# ------------------------------------------------------------------------- DeepCluster-v2


@METHODS.register(
    "deepcluster_v2",
    family="clustering",
    paper="Caron et al. 2020, Unsupervised Learning of Visual Features by Contrasting Cluster "
    "Assignments (Appendix: DeepCluster-v2)",
)
class DeepClusterV2(Method):
    r"""DeepCluster-v2 (Caron et al. 2020, SwAV paper, Appendix "DeepCluster-v2").

    A memory bank holds the l2-normalised projections :math:`z_i` of the global views of every
    sample from the last epoch. Once per epoch the bank is clustered by spherical k-means,
    separately for each of several :math:`K_h` (view :math:`h \bmod G` for head :math:`h`);
    the centroids :math:`C_h` become fixed prototypes and the assignments :math:`y_{h,i}`
    targets. Every view of a sample is then trained to predict its assignment:

    .. math::
        \mathcal{L} = \frac{1}{H} \sum_h -\log
            \frac{\exp(z^\top c_{h, y_{h,i}} / \tau)}{\sum_k \exp(z^\top c_{h,k} / \tau)}

    An "epoch" is detected by counting the samples seen (all processes) against the data set
    size given to :meth:`prepare`. Until the first clustering there are no targets and the
    loss is 0 (the official code clusters a bank filled by an extra pass over the data before
    training; here the first epoch fills it). Samples never seen have no target yet and are
    ignored.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker; ``views(batch, num_global_views + num_local_views)``.
        projector_hidden_dim: hidden width of the projector.
        projector_dim: width of :math:`z` and of the centroids.
        num_prototypes: :math:`K_h` of each clustering.
        temperature: :math:`\tau`.
        kmeans_iterations: k-means iterations per clustering.
        num_global_views: views stored in the bank (and clustered).
        num_local_views: further views that only predict.

    Paper defaults vs. library defaults (official ``deepclusterv2_800ep_pretrain.sh``):
        * projector 2048-BN-ReLU-128, three clusterings of :math:`K = 3000`, :math:`\tau = 0.1`,
          10 k-means iterations, multi-crop 2 × 224 + 6 × 96, prototypes frozen throughout
          (``freeze_prototypes_niters`` 300000, more than the run). Library: hidden 512,
          :math:`K = (30, 30, 30)` for 1,437 digits, no local views by default (as SwAV).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        num_prototypes: Sequence[int] = (30, 30, 30),
        temperature: float = 0.1,
        kmeans_iterations: int = 10,
        num_global_views: int = 2,
        num_local_views: int = 0,
    ) -> None:
        super().__init__(encoder, views)
        if isinstance(num_prototypes, int):
            num_prototypes = (num_prototypes,)
        self.num_prototypes = tuple(check_int(k, "num_prototypes entries") for k in num_prototypes)
        if not self.num_prototypes:
            raise ValueError("num_prototypes needs at least one number of clusters")
        self.temperature = check_positive_number(temperature, "temperature")
        self.kmeans_iterations = check_int(kmeans_iterations, "kmeans_iterations", minimum=0)
        self.num_global_views = check_int(num_global_views, "num_global_views")
        self.num_local_views = check_int(num_local_views, "num_local_views", minimum=0)
        self.projector = MLP(self.embed_dim, check_int(projector_hidden_dim, "projector_hidden_dim"),
                             check_int(projector_dim, "projector_dim"), num_layers=2)
        self.num_samples = 0
        heads = len(self.num_prototypes)
        # Fixed prototypes of all heads, stacked: [sum K_h, projector_dim].
        self.register_buffer("centroids", torch.zeros(sum(self.num_prototypes), projector_dim))
        self.register_buffer("bank", torch.zeros(num_global_views, 0, projector_dim))
        self.register_buffer("filled", torch.zeros(0, dtype=torch.bool))
        self.register_buffer("assignments", torch.full((heads, 0), -1, dtype=torch.long))
        self.register_buffer("samples_seen", torch.zeros((), dtype=torch.long))
        self.register_buffer("clusterings_done", torch.zeros((), dtype=torch.long))

    def prepare(self, num_samples: int) -> None:
        """Create the bank ``[G, N, projector_dim]`` and assignments ``[heads, N]`` (all -1)."""
        n = check_int(num_samples, "num_samples")
        self.num_samples = n
        device = self.centroids.device
        self.bank = torch.zeros(self.num_global_views, n, self.centroids.shape[1], device=device)
        self.filled = torch.zeros(n, dtype=torch.bool, device=device)
        self.assignments = torch.full((len(self.num_prototypes), n), -1, dtype=torch.long, device=device)
        self.samples_seen.zero_()
        self.clusterings_done.zero_()

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        if self.num_samples == 0:
            raise RuntimeError("DeepCluster-v2 keeps a memory bank of the whole data set: call "
                               "method.prepare(num_samples) before training.")
        index = _sample_index(batch, "DeepCluster-v2")
        views = self.views(batch, self.num_global_views + self.num_local_views)
        z = torch.cat([F.normalize(self.projector(self.encoder(v["x"])), dim=1) for v in views])
        scores = [z @ c.T for c in self.centroids.split(self.num_prototypes)]  # per head [V*B, K_h]
        targets = [a[index].repeat(len(views)) for a in self.assignments]
        loss = pseudo_label_loss(scores, targets, temperature=self.temperature)
        if self.training:
            batch_size = z.shape[0] // len(views)
            global_views = z[: self.num_global_views * batch_size].detach()
            self._remember(index, global_views.view(self.num_global_views, batch_size, -1))
        return {"loss": loss, "clusterings": self.clusterings_done.detach().float()}

    @torch.no_grad()
    def _remember(self, index: Tensor, z: Tensor) -> None:
        # gather stacks along dim 0, so put the sample dimension first.
        index, z = _gather_rows(index, z.transpose(0, 1))
        index = index.to(self.bank.device)
        self.bank[:, index] = z.transpose(0, 1).to(self.bank)
        self.filled[index] = True
        self.samples_seen += index.numel()

    def on_step_end(self, progress: float) -> None:
        """Re-cluster the bank each time another data set's worth of samples has been seen."""
        if self.num_samples and int(self.samples_seen) >= self.num_samples:
            self.samples_seen -= self.num_samples
            self.cluster()

    @torch.no_grad()
    def cluster(self) -> None:
        """Spherical k-means of the bank for every head; centroids become the prototypes."""
        members = self.filled.nonzero().squeeze(1)
        if members.numel() < max(self.num_prototypes):
            return
        centroids = list(self.centroids.split(self.num_prototypes))
        for h, k in enumerate(self.num_prototypes):
            # Seeded by the clustering round: identical on every process, and on resume.
            generator = torch.Generator().manual_seed(int(self.clusterings_done) * 1009 + h)
            view = self.bank[h % self.num_global_views, members]
            centroids_h, assignments_h = spherical_kmeans(view, k, self.kmeans_iterations, generator)
            centroids[h].copy_(centroids_h)
            self.assignments[h].fill_(-1)
            self.assignments[h, members] = assignments_h
        _broadcast_from_first(self.centroids, self.assignments)
        self.clusterings_done += 1

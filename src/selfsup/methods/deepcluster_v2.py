"""DeepCluster-v2: spherical k-means of last epoch's features; the centroids are fixed
prototypes that every view of a sample learns to predict its cluster with.

It keeps per-sample state indexed by ``batch["index"]`` (a memory bank, the assignments); see
:mod:`selfsup.methods.per_sample_state` for how that state stays identical on every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.losses.pseudo_label import pseudo_label_loss
from selfsup.methods.base import Method
from selfsup.methods.per_sample_state import broadcast_from_first, gather_rows, sample_index
from selfsup.nn.heads import MLP
from selfsup.nn.kmeans import spherical_kmeans
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_positive_number


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
        if max(self.num_prototypes) > n:
            # k-means cannot make more clusters than there are samples: say so before training
            raise SelfsupError(
                f"deepcluster_v2: num_prototypes {list(self.num_prototypes)} asks for more clusters than the "
                f"{n} training samples. Set method.num_prototypes to at most {n}."
            )
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
        index = sample_index(batch, "DeepCluster-v2")
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
        index, z = gather_rows(index, z.transpose(0, 1))
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
        broadcast_from_first(self.centroids, self.assignments)
        self.clusterings_done += 1

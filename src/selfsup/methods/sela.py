"""SeLa, self-labelling: pseudo-labels of the whole data set from an equipartition transport
problem, re-solved a few times during training.

It keeps per-sample state indexed by ``batch["index"]`` (a feature bank, the labels); see
:mod:`selfsup.methods.per_sample_state` for how that state stays identical on every process.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.losses.pseudo_label import pseudo_label_loss
from selfsup.methods.base import Method
from selfsup.methods.per_sample_state import broadcast_from_first, gather_rows, sample_index
from selfsup.nn.sinkhorn import equipartition_labels
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_positive_number


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
        index = sample_index(batch, "SeLa")
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
        index, features = gather_rows(index, features)
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
        broadcast_from_first(self.labels)

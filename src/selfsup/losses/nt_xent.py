"""NT-Xent, the normalized temperature-scaled cross entropy of SimCLR (Chen, Kornblith,
Norouzi, Hinton 2020, "A Simple Framework for Contrastive Learning of Visual Representations",
eq. 1): :func:`nt_xent` and its module form :class:`NTXentLoss`.

Its variants (DCL, Debiased, SupCon, MV-InfoNCE, iSogCLR) have a module each beside this one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.nn.gather import gather, rank
from selfsup.validate import check_pair


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5, normalize: bool = True) -> Tensor:
    r"""NT-Xent loss of two batches of paired embeddings.

    For a positive pair :math:`(i, j)` among the :math:`2N` embeddings of the global batch,

    .. math::
        \ell_{i,j} = -\log \frac{\exp(\mathrm{sim}(z_i, z_j)/\tau)}
            {\sum_{k=1}^{2N} \mathbb{1}_{[k \ne i]} \exp(\mathrm{sim}(z_i, z_k)/\tau)}

    with :math:`\mathrm{sim}` the cosine similarity (with ``normalize=False``, the dot product
    :math:`z_i^\top z_j`: CL4SRec's ``sim``, Xie et al. 2022); the loss is the mean of
    :math:`\ell` over all :math:`2N` anchors (both directions of every pair).

    Distributed: ``z1`` and ``z2`` are gathered from all processes with the autograd-aware
    :func:`selfsup.nn.gather.gather`, so negatives come from the global batch of
    ``N = B * W`` pairs; the anchors are this process's ``2B`` embeddings, so the mean of the
    per-process losses (what DDP optimises) equals the single-process loss on the full batch.

    Args:
        z1: ``[B, D]`` embeddings of the first view (not necessarily normalised).
        z2: ``[B, D]`` embeddings of the second view; row ``i`` is the positive of ``z1[i]``.
        temperature: :math:`\tau`.
        normalize: l2-normalise the embeddings first (cosine similarities, SimCLR's choice).

    Returns:
        Scalar loss.

    Example:
        >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = nt_xent(z1, z2, temperature=0.5)
    """
    check_pair("nt_xent", z1, z2)
    batch = z1.shape[0]
    if normalize:
        z1 = F.normalize(z1, dim=1)
        z2 = F.normalize(z2, dim=1)
    # Global layout: [view-1 rows of all ranks (N), view-2 rows of all ranks (N)].
    z1_all = gather(z1)
    z2_all = gather(z2)
    total = z1_all.shape[0]  # N = B * W
    candidates = torch.cat([z1_all, z2_all], dim=0)  # [2N, D]
    anchors = torch.cat([z1, z2], dim=0)  # [2B, D]
    logits = anchors @ candidates.T / temperature  # [2B, 2N]

    # Global indices of this rank's anchors, and of their positives (the other view).
    local = torch.arange(batch, device=z1.device) + rank() * batch
    self_index = torch.cat([local, local + total])
    positive_index = torch.cat([local + total, local])
    rows = torch.arange(2 * batch, device=z1.device)
    # An embedding is not its own negative: drop the self-similarity from the softmax.
    is_self = torch.zeros_like(logits, dtype=torch.bool)
    is_self[rows, self_index] = True
    logits = logits.masked_fill(is_self, float("-inf"))
    return F.cross_entropy(logits, positive_index)


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent` (SimCLR, Chen et al. 2020, eq. 1).

    Args:
        temperature: softmax temperature :math:`\\tau`.

    Shapes: ``z1: [B, D]``, ``z2: [B, D]`` -> scalar.
    """

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return nt_xent(z1, z2, self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"

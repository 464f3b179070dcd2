"""The similarity matrix the two-view InfoNCE variants share (DCL, Debiased, SupCon, iSogCLR).

Conventions of the InfoNCE variants, shared with :func:`selfsup.losses.nt_xent.nt_xent`:
embeddings are l2-normalised here (similarities are cosines); negatives come from the global
batch through the autograd-aware :func:`selfsup.nn.gather.gather`; the anchors are this
process's embeddings, so the mean of the per-process losses (what DDP optimises) equals the
single-process loss on the full batch. With two views the global layout of the ``2N``
candidates is ``[view-1 rows of all ranks, view-2 rows of all ranks]``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.nn.gather import gather, rank


class TwoViewSimilarities(NamedTuple):
    """What :func:`two_view_similarities` returns, for ``2B`` local anchors and ``2N`` global
    candidates."""

    sim: Tensor  # [2B, 2N] cosine similarities of this rank's anchors to all candidates
    is_self: Tensor  # [2B, 2N] bool, the anchor itself
    is_positive: Tensor  # [2B, 2N] bool, the other view of the anchor's sample
    positive: Tensor  # [2B] similarity to the positive


def two_view_similarities(z1: Tensor, z2: Tensor) -> TwoViewSimilarities:
    """Cosines of the ``2B`` local anchors ``[z1; z2]`` to the ``2N`` global candidates.

    Args:
        z1: ``[B, D]`` embeddings of the first view (normalised here).
        z2: ``[B, D]`` embeddings of the second view; row ``i`` is the positive of ``z1[i]``.

    Returns:
        :class:`TwoViewSimilarities`: the ``[2B, 2N]`` similarities, the masks of each anchor's
        own column and of its positive's, and the ``[2B]`` positive similarities. The candidates
        are gathered with the autograd-aware :func:`selfsup.nn.gather.gather`, in the layout
        ``[view-1 rows of all ranks, view-2 rows of all ranks]``.
    """
    batch = z1.shape[0]
    z1 = F.normalize(z1, dim=1)
    z2 = F.normalize(z2, dim=1)
    z1_all, z2_all = gather(z1), gather(z2)
    total = z1_all.shape[0]  # N = B * W
    sim = torch.cat([z1, z2]) @ torch.cat([z1_all, z2_all]).T
    local = torch.arange(batch, device=z1.device) + rank() * batch
    rows = torch.arange(2 * batch, device=z1.device)
    is_self = torch.zeros_like(sim, dtype=torch.bool)
    is_self[rows, torch.cat([local, local + total])] = True
    is_positive = torch.zeros_like(is_self)
    positive_index = torch.cat([local + total, local])
    is_positive[rows, positive_index] = True
    return TwoViewSimilarities(sim, is_self, is_positive, sim[rows, positive_index])

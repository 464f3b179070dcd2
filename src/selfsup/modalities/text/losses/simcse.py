"""Unsupervised SimCSE's contrastive loss (Gao, Yao, Chen 2021, "SimCSE: Simple Contrastive
Learning of Sentence Embeddings", eq. 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.nn.gather import gather, rank
from selfsup.validate import check_pair


def simcse_loss(h1: Tensor, h2: Tensor, temperature: float = 0.05) -> Tensor:
    r"""In-batch InfoNCE from each sentence's first encoding to the second encodings of all:

    .. math::
        \ell_i = -\log \frac{e^{\mathrm{sim}(h_i, h_i^+)/\tau}}{\sum_{j=1}^{N} e^{\mathrm{sim}(h_i, h_j^+)/\tau}}

    with :math:`h_i, h_i^+` the two dropout-noised encodings of sentence :math:`i`, sim the cosine
    similarity, and the loss the mean of :math:`\ell_i` over the batch. Unlike NT-Xent the
    denominator holds the :math:`N` second encodings only (the paper's eq. 4), not the first ones.

    Distributed: ``h2`` is gathered from all processes with the autograd-aware
    :func:`selfsup.nn.gather.gather`, so the negatives are the global batch's; each process's
    anchors are its own ``h1`` rows, so the mean of the per-process losses (what DDP optimises)
    is the single-process loss on the full batch.

    Args:
        h1: ``[B, D]`` first encodings.
        h2: ``[B, D]`` second encodings; row ``i`` is the positive of ``h1[i]``.
        temperature: :math:`\tau` (paper: 0.05).

    Returns:
        Scalar.

    Example:
        >>> h1, h2 = torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = simcse_loss(h1, h2)
    """
    check_pair("simcse_loss", h1, h2)
    h1 = F.normalize(h1, dim=1)
    candidates = gather(F.normalize(h2, dim=1))  # [W * B, D], rank order
    logits = h1 @ candidates.T / temperature  # [B, W * B]
    positive = torch.arange(h1.shape[0], device=h1.device) + rank() * h1.shape[0]
    return F.cross_entropy(logits.float(), positive)

r"""SCARF's contrastive loss (Bahri, Jiang, Tay, Metzler 2022, "SCARF: Self-Supervised Contrastive
Learning using Random Feature Corruption", Section 2): InfoNCE from each anchor to the corrupted
views, :func:`scarf_loss`.

For row :math:`i` of a batch of :math:`N`, with :math:`z_i` the projection of the original row
and :math:`\tilde z_i` that of its corrupted view,

.. math::
    \ell_i = -\log \frac{\exp(s(z_i, \tilde z_i)/\tau)}{\sum_{k=1}^{N} \exp(s(z_i, \tilde z_k)/\tau)}

with :math:`s` the cosine similarity: the negatives of an anchor are the corrupted views of the
other rows (not the other anchors, unlike SimCLR's symmetric NT-Xent). The loss is the mean of
:math:`\ell_i`.

Distributed: the corrupted projections are gathered from every process with the
autograd-aware :func:`selfsup.nn.gather.gather` (negatives from the global batch); the anchors
stay local, so the mean of the per-process losses is the single-process loss on the whole batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.nn.gather import gather, rank
from selfsup.validate import check_pair, check_positive


def scarf_loss(anchor: Tensor, corrupted: Tensor, temperature: float = 1.0) -> Tensor:
    r"""SCARF's InfoNCE (module doc) of ``anchor [B, D]`` and ``corrupted [B, D]`` projections;
    row ``i`` of ``corrupted`` is the positive of ``anchor[i]``. Returns a scalar.

    Example:
        >>> loss = scarf_loss(torch.randn(8, 16), torch.randn(8, 16), temperature=1.0)
    """
    check_pair("scarf_loss", anchor, corrupted)
    check_positive(temperature=temperature)
    anchor = F.normalize(anchor, dim=1)
    candidates = gather(F.normalize(corrupted, dim=1))  # [N, D], N = B * world size
    logits = anchor @ candidates.T / temperature  # [B, N]
    positives = torch.arange(anchor.shape[0], device=anchor.device) + rank() * anchor.shape[0]
    return F.cross_entropy(logits, positives)

r"""The InfoNCE of graph contrastive recommendation (SGL, SimGCL, XSimGCL, NCL).

Two embeddings of the same node (its two views, or the node and its prototype) attract; the
other candidates repel. With cosine similarity :math:`s` and temperature :math:`\tau`
(Wu et al. 2021, SGL, Eq. 10),

.. math::
    \mathcal{L} = \sum_{i} -\log \frac{\exp(s(a_i, p_i)/\tau)}{\sum_{j} \exp(s(a_i, c_j)/\tau)}

where the candidates :math:`c` are the positives of the other anchors (the in-batch form SGL,
SimGCL and XSimGCL train with) or any given set (NCL: every user, or every prototype). It is the
cross-entropy of the similarity matrix with the diagonal as the target.

Shapes: ``anchors [B, D]``, ``positives [B, D]``, ``candidates [C, D]`` (default: the positives,
``C = B``); ``reduction`` ``"mean"`` (SGL, SimGCL, XSimGCL as SELFRec trains them) or ``"sum"``
(NCL, whose weights are set for a sum).

Example:
    >>> a, p = torch.randn(2, 32, 64).unbind(0)
    >>> loss = info_nce(a, p, temperature=0.2)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def info_nce(anchors: Tensor, positives: Tensor, temperature: float, candidates: Tensor | None = None,
             reduction: str = "mean") -> Tensor:
    """Cross-view InfoNCE (module doc)."""
    a = F.normalize(anchors, dim=-1)
    p = F.normalize(positives, dim=-1)
    c = p if candidates is None else F.normalize(candidates, dim=-1)
    positive = (a * p).sum(-1) / temperature
    every = torch.logsumexp(a @ c.T / temperature, dim=-1)
    loss = every - positive
    return loss.sum() if reduction == "sum" else loss.mean()


def prototype_nce(embeddings: Tensor, assignments: Tensor, centroids: Tensor, temperature: float,
                  reduction: str = "sum") -> Tensor:
    r"""NCL's prototype contrast (Lin et al. 2022, Eq. 13): each embedding against its cluster's
    centroid, among every centroid. ``embeddings [B, D]``, ``assignments [B]``, ``centroids [K, D]``."""
    return info_nce(embeddings, centroids[assignments], temperature, candidates=centroids, reduction=reduction)

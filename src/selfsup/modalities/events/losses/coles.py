r"""CoLES's contrastive loss: Hadsell et al. 2006's margin loss over all sub-sequence embeddings of
a batch, with hard negative mining (Babaev et al. 2022, "CoLES: Contrastive Learning for Event
Sequences with Self-Supervision", Section 3.2 "contrastive loss" and "negative sampling").

For embeddings :math:`c_u, c_v` of two sub-sequences, :math:`Y_{uv} = 1` when they come from the
same entity, :math:`d_{uv} = \lVert c_u - c_v \rVert_2` and margin :math:`\rho`:

.. math::
    \mathcal{L}_{uv} = Y_{uv}\, \tfrac12 d_{uv}^2 + (1 - Y_{uv})\, \tfrac12 \max(0, \rho - d_{uv})^2

Every pair of sub-sequences of one entity is a positive pair; each anchor's negatives are its
``negatives`` nearest sub-sequences of other entities (hard negative mining: the pairs that still
violate the margin). The loss is the mean of :math:`\mathcal{L}_{uv}` over the selected pairs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from selfsup.nn.gather import gather, rank


def coles_loss(z: Tensor, groups: Tensor, margin: float = 0.5, negatives: int = 5) -> Tensor:
    """Margin contrastive loss of ``z [N, D]`` (several embeddings per entity; ``groups [N]``
    says whose each is, ids unique across processes) with ``negatives`` hard negatives per anchor.

    Distributed: ``z`` and ``groups`` are gathered with the autograd-aware
    :func:`selfsup.nn.gather.gather`, so positives and negatives come from the global batch; the
    anchors are this process's ``N`` rows, so the mean of the per-process losses (what DDP
    optimises) equals the single-process loss on the full batch when every process has ``N``.

    Returns:
        Scalar loss.

    Example:
        >>> z = torch.nn.functional.normalize(torch.randn(10, 8), dim=1)
        >>> loss = coles_loss(z, torch.arange(5).repeat(2))
    """
    if z.dim() != 2 or groups.shape != z.shape[:1]:
        raise ValueError(f"coles_loss expects z [N, D] and groups [N]; got {tuple(z.shape)} and {tuple(groups.shape)}")
    candidates, candidate_groups = gather(z), gather(groups)
    squared = torch.cdist(z, candidates).pow(2)  # [N, N_all]
    self_index = torch.arange(z.shape[0], device=z.device) + rank() * z.shape[0]
    is_self = torch.zeros_like(squared, dtype=torch.bool)
    is_self[torch.arange(z.shape[0], device=z.device), self_index] = True
    same = (groups[:, None] == candidate_groups[None, :]) & ~is_self
    positive_terms = 0.5 * squared * same
    count = same.sum(1).to(z.dtype)
    distance = squared.clamp_min(1e-12).sqrt()
    other = ~same & ~is_self
    k = min(negatives, int(other.sum(1).min()) if other.numel() else 0)
    total = positive_terms.sum(1)
    if k > 0:
        nearest = distance.masked_fill(~other, float("inf")).topk(k, dim=1, largest=False).values
        total = total + (0.5 * torch.relu(margin - nearest).pow(2)).sum(1)
        count = count + k
    return (total / count.clamp_min(1.0)).mean()

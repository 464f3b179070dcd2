r"""CPC's InfoNCE over padded event sequences (van den Oord, Li, Vinyals 2018, "Representation
Learning with Contrastive Predictive Coding", eq. 4): :func:`padded_future_infonce`.

The time-series CPC (:func:`selfsup.modalities.timeseries.losses.cpc.future_infonce`) scores each
prediction against the latents of every other sample of the batch at the same position. Entities
in an event batch have histories of different lengths, so here a position of a row past its
length is padding: it is neither a query nor a candidate. At positions where only one entity still
has an event, the positive is the only candidate (its loss is 0 and teaches nothing): those queries
are left out of the mean too.

As in the time-series loss, the negatives come from the local batch only (CPC draws them from each
GPU's own minibatch, Section 3.1), so nothing is gathered across processes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def padded_future_infonce(predictions: Tensor, targets: Tensor, valid: Tensor) -> Tensor:
    r"""InfoNCE of predicted future events; negatives: the other entities' events at the same position.

    For entity :math:`b` and position :math:`n` (a context time :math:`t` for a fixed step
    :math:`k`, so that :math:`n` stands for the event :math:`t + k`), the prediction
    :math:`\hat z_{b,n} = W_k c_{b,t}` scores the candidates :math:`z_{j,n}` of the entities
    :math:`j \in V_n` that have an event there (``valid[j, n]``) with the bilinear score of CPC's
    eq. 3:

    .. math::
        \mathcal{L} = -\frac{1}{|Q|} \sum_{(b, n) \in Q}
            \log \frac{\exp(\hat z_{b,n}^\top z_{b,n})}{\sum_{j \in V_n} \exp(\hat z_{b,n}^\top z_{j,n})},
        \qquad Q = \{(b, n) : b \in V_n,\ |V_n| \ge 2\}.

    Args:
        predictions: ``[B, N, D]``, :math:`\hat z_{b,n}`.
        targets: ``[B, N, D]``, the true future event embeddings :math:`z_{b,n}`.
        valid: ``[B, N]`` bool, True where entity ``b`` has an event at ``n`` (and so a context to
            predict it from).

    Returns:
        Scalar loss; 0 (still attached to the graph) when no position has two entities.

    Example:
        >>> lengths = torch.tensor([6, 3, 5])
        >>> valid = torch.arange(6)[None, :] < lengths[:, None]
        >>> loss = padded_future_infonce(torch.randn(3, 6, 8), torch.randn(3, 6, 8), valid)
    """
    if predictions.dim() != 3 or predictions.shape != targets.shape or valid.shape != predictions.shape[:2]:
        raise ValueError(f"padded_future_infonce expects predictions and targets [B, N, D] and valid [B, N]; got "
                         f"{tuple(predictions.shape)}, {tuple(targets.shape)} and {tuple(valid.shape)}")
    valid = valid.to(torch.bool)
    # Positions where at least two entities have an event; a prefix when the valid steps of every
    # row are left-aligned (as in an EventBatch), but any pattern is handled.
    columns = (valid.sum(0) >= 2).nonzero().squeeze(1)
    if len(columns) == 0:
        return (predictions.sum() + targets.sum()) * 0.0
    predictions, targets, valid = predictions[:, columns], targets[:, columns], valid[:, columns]
    scores = torch.einsum("bnd,jnd->nbj", predictions, targets)  # [N', B, B]
    scores = scores.masked_fill(~valid.t()[:, None, :], float("-inf"))  # padded candidates
    position, entity = valid.t().nonzero(as_tuple=True)  # the queries
    return F.cross_entropy(scores[position, entity], entity)

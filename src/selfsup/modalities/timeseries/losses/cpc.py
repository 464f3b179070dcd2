"""The InfoNCE loss of contrastive predictive coding (van den Oord, Li, Vinyals 2018,
"Representation Learning with Contrastive Predictive Coding", eq. 4), with the latents of the
*other samples of the batch at the same position* as negatives: :func:`future_infonce`. It is
also TS-TCC's temporal contrasting loss (Eldele et al. 2021, "Time-Series Representation
Learning via Temporal and Contextual Contrasting", IJCAI).

It uses the local batch only (CPC draws its negatives from each GPU's own minibatch, Section
3.1; TS-TCC trains on one device), so nothing is gathered across processes: under DDP each
process contrasts its own samples, as in the papers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.modalities.timeseries.losses.ts2vec import check_sequence_pair


def future_infonce(predictions: Tensor, targets: Tensor) -> Tensor:
    r"""InfoNCE over predicted future latents, negatives = other samples at the same position.

    For sample :math:`b` and position :math:`n` (a pair (context time :math:`t`, step
    :math:`k`)), the score of candidate latent :math:`z_{j,n}` is the bilinear
    :math:`f_k = \exp(z_{j,n}^\top W_k c_{b,t})` (CPC eq. 3), with the prediction
    :math:`W_k c_{b,t}` given here; the positive is the sample's own future latent and the
    :math:`B - 1` negatives are the other samples' latents at the same position:

    .. math::
        \mathcal{L} = -\frac{1}{BN} \sum_{b, n}
            \log \frac{\exp(\hat z_{b,n}^\top z_{b,n})}{\sum_{j=1}^{B} \exp(\hat z_{b,n}^\top z_{j,n})}

    This is CPC's loss (eq. 4) with negatives drawn from the minibatch, and TS-TCC's temporal
    contrasting loss (:math:`\mathcal{L}^s_{TC}`, with :math:`\mathcal{N}_{t,k}` the same
    time step of the other samples of the minibatch). The softmax runs over the candidate latents for a fixed
    prediction, as in both papers' equations (TS-TCC's released code normalises over the
    predictions for a fixed latent instead).

    Args:
        predictions: ``[B, N, D]``, :math:`\hat z_{b,n} = W_k c_{b,t}`.
        targets: ``[B, N, D]``, the true latents :math:`z_{b,n}` (of the same or the other view).

    Returns:
        Scalar loss (0 when ``B == 1``: the positive is the only candidate).

    Example:
        >>> loss = future_infonce(torch.randn(8, 12, 64), torch.randn(8, 12, 64))
    """
    check_sequence_pair(predictions, targets, "future_infonce")
    # scores[n, b, j] = prediction of sample b at position n . latent of sample j at n
    scores = torch.einsum("bnd,jnd->nbj", predictions, targets)
    labels = torch.arange(predictions.shape[0], device=predictions.device)
    labels = labels.expand(scores.shape[0], -1)
    return F.cross_entropy(scores.reshape(-1, scores.shape[-1]), labels.reshape(-1))

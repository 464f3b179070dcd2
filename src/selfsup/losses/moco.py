"""MoCo's contrastive losses, with keys from a momentum encoder.

* MoCo's InfoNCE against a queue of negative keys (He et al. 2020, "Momentum Contrast for
  Unsupervised Visual Representation Learning", eq. 1; used unchanged by MoCo v2).
* MoCo v3's symmetric in-batch contrastive loss (Chen, Xie, He 2021, "An Empirical Study of
  Training Self-Supervised Vision Transformers", Algorithm 1).

All similarities are cosine similarities (inputs are l2-normalised here). Keys carry no
gradient, as in the papers (``k = k.detach()`` in Algorithm 1 of MoCo).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.nn.gather import gather, rank
from selfsup.validate import check_pair, check_positive


def moco_infonce(q: Tensor, k: Tensor, negatives: Tensor, temperature: float = 0.2) -> Tensor:
    r"""MoCo's InfoNCE: each query must pick its positive key among the queued negatives.

    .. math::
        \mathcal{L}_q = -\log \frac{\exp(q \cdot k_+ / \tau)}
            {\exp(q \cdot k_+ / \tau) + \sum_{i=1}^{K} \exp(q \cdot k_i / \tau)}

    (He et al. 2020, eq. 1), averaged over the queries; :math:`k_i` are the ``K`` queued keys.
    In logits form (Algorithm 1): ``logits = [q·k+, q·queue] / τ``, label 0.

    Distributed: the loss needs no gather. The positive is the query's own key and the
    negatives are the queue, which every rank holds identically
    (:meth:`selfsup.nn.queue.Queue.enqueue` gathers the keys of all ranks), so the mean of the
    per-rank losses is the single-process loss on the full batch.

    Args:
        q: ``[B, D]`` queries (from the trained encoder).
        k: ``[B, D]`` positive keys (from the momentum encoder); detached here.
        negatives: ``[K, D]`` queued keys (``K`` may be 0: the loss is then 0).
        temperature: :math:`\tau` (0.07 in MoCo, 0.2 in MoCo v2).

    Returns:
        Scalar loss.

    Example:
        >>> q, k, queue = torch.randn(8, 16), torch.randn(8, 16), torch.randn(32, 16)
        >>> loss = moco_infonce(q, k, queue, temperature=0.2)
    """
    check_pair("moco_infonce", q, k)
    check_positive(temperature=temperature)
    if negatives.dim() != 2 or negatives.shape[1] != q.shape[1]:
        raise ValueError(f"moco_infonce expects negatives of shape [K, {q.shape[1]}], "
                         f"got {tuple(negatives.shape)}")
    q = F.normalize(q, dim=1)
    k = F.normalize(k.detach(), dim=1)
    negatives = F.normalize(negatives.detach().to(q.dtype), dim=1)
    positive_logits = (q * k).sum(dim=1, keepdim=True)  # [B, 1]
    negative_logits = q @ negatives.T  # [B, K]
    logits = torch.cat([positive_logits, negative_logits], dim=1) / temperature
    # The positive is column 0 for every query.
    labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, labels)


def moco_v3_contrastive(q: Tensor, k: Tensor, temperature: float = 0.2) -> Tensor:
    r"""``ctr(q, k)`` of MoCo v3: the keys of the other samples in the global batch are negatives.

    .. math::
        \mathrm{ctr}(q, k) = 2\tau \cdot \frac{1}{B} \sum_{i} -\log
            \frac{\exp(q_i \cdot k_i / \tau)}{\sum_{j=1}^{N} \exp(q_i \cdot k_j / \tau)}

    over this rank's ``B`` queries and the ``N = B W`` keys of all ranks (Algorithm 1:
    ``k = concat_all_gather(k)``, labels offset by the rank, and the cross-entropy multiplied
    by ``2τ``, which makes the gradient's scale independent of :math:`\tau`).

    Distributed: the keys (no gradient) are gathered; the queries stay local, so the mean of
    the per-rank losses equals the single-process loss on the full batch and so do DDP's
    averaged gradients.

    Args:
        q: ``[B, D]`` queries (after the predictor).
        k: ``[B, D]`` keys of the other view from the momentum encoder; detached here.
        temperature: :math:`\tau`.

    Returns:
        Scalar loss.
    """
    check_pair("moco_v3_contrastive", q, k)
    check_positive(temperature=temperature)
    q = F.normalize(q, dim=1)
    keys = gather(F.normalize(k.detach(), dim=1))  # [N, D]
    logits = q @ keys.T / temperature  # [B, N]
    labels = torch.arange(q.shape[0], device=q.device) + rank() * q.shape[0]
    return F.cross_entropy(logits, labels) * (2.0 * temperature)


def moco_v3_loss(
    q1: Tensor, q2: Tensor, k1: Tensor, k2: Tensor, temperature: float = 0.2
) -> Tensor:
    r"""MoCo v3's symmetric loss ``ctr(q1, k2) + ctr(q2, k1)`` (Algorithm 1).

    Args:
        q1, q2: ``[B, D]`` queries of views 1 and 2 (predictor outputs).
        k1, k2: ``[B, D]`` momentum keys of views 1 and 2 (projector outputs).
        temperature: :math:`\tau`.

    Returns:
        Scalar loss (each term is :func:`moco_v3_contrastive`).

    Example:
        >>> q1, q2, k1, k2 = (torch.randn(8, 16) for _ in range(4))
        >>> loss = moco_v3_loss(q1, q2, k1, k2, temperature=0.2)
    """
    return moco_v3_contrastive(q1, k2, temperature) + moco_v3_contrastive(q2, k1, temperature)

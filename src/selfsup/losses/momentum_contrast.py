"""Contrastive losses with keys from a momentum encoder, a queue, or a support set.

* MoCo's InfoNCE against a queue of negative keys (He et al. 2020, "Momentum Contrast for
  Unsupervised Visual Representation Learning", eq. 1; used unchanged by MoCo v2).
* MoCo v3's symmetric in-batch contrastive loss (Chen, Xie, He 2021, "An Empirical Study of
  Training Self-Supervised Vision Transformers", Algorithm 1).
* NNCLR's nearest-neighbour contrastive loss (Dwibedi et al. 2021, "With a Little Help from My
  Friends: Nearest-Neighbor Contrastive Learning of Visual Representations", eq. 2).

All similarities are cosine similarities (inputs are l2-normalised here). Keys and nearest
neighbours carry no gradient, as in the papers (``k = k.detach()`` in Algorithm 1 of MoCo).
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


def nearest_neighbours(z: Tensor, support: Tensor) -> Tensor:
    r"""The cosine nearest neighbour of each row of ``z`` in the support set, ``NN(z, Q)``.

    .. math:: \mathrm{NN}(z, Q) = \arg\min_{q \in Q} \| \bar z - \bar q \|_2
              = \arg\max_{q \in Q} \cos(z, q)

    (Dwibedi et al. 2021, eq. 1, on l2-normalised vectors.)

    Args:
        z: ``[B, D]`` projections.
        support: ``[M, D]`` support set, ``M >= 1``.

    Returns:
        ``[B, D]`` the l2-normalised neighbours, detached (no gradient flows through the
        search or the support set).
    """
    if support.dim() != 2 or z.dim() != 2 or support.shape[1] != z.shape[1]:
        raise ValueError(f"nearest_neighbours expects z [B, D] and support [M, D] with the same D, "
                         f"got {tuple(z.shape)} and {tuple(support.shape)}")
    if support.shape[0] == 0:
        raise ValueError("nearest_neighbours needs a non-empty support set")
    with torch.no_grad():
        support = F.normalize(support.to(z.dtype), dim=1)
        similarity = F.normalize(z, dim=1) @ support.T  # [B, M]
        return support[similarity.argmax(dim=1)]


def nnclr_contrastive(neighbours: Tensor, p: Tensor, temperature: float = 0.1) -> Tensor:
    r"""One direction of NNCLR's loss: ``NN(z_i)`` must pick ``p_i`` among the batch's predictions.

    .. math::
        \mathcal{L}_i = -\log \frac{\exp(\mathrm{NN}(z_i, Q) \cdot p^+_i / \tau)}
            {\sum_{k=1}^{N} \exp(\mathrm{NN}(z_i, Q) \cdot p^+_k / \tau)}

    (Dwibedi et al. 2021, eq. 2, with the predictor of Section 3.2 applied to :math:`z^+`.)
    The candidates :math:`p^+_k` are the predictions of the other view of all ``N = B W``
    samples of the global batch, gathered with the autograd-aware
    :func:`selfsup.nn.gather.gather`, since the gradient flows through them.

    Args:
        neighbours: ``[B, D]`` nearest neighbours of view-1 projections (no gradient).
        p: ``[B, D]`` predictions of view 2; row ``i`` is the positive of ``neighbours[i]``.
        temperature: :math:`\tau`.

    Returns:
        Scalar loss (mean over this rank's ``B`` anchors).
    """
    check_pair("nnclr_contrastive", neighbours, p)
    check_positive(temperature=temperature)
    neighbours = F.normalize(neighbours.detach(), dim=1)
    candidates = gather(F.normalize(p, dim=1))  # [N, D]
    logits = neighbours @ candidates.T / temperature  # [B, N]
    labels = torch.arange(p.shape[0], device=p.device) + rank() * p.shape[0]
    return F.cross_entropy(logits, labels)


def nnclr_loss(
    z1: Tensor, z2: Tensor, p1: Tensor, p2: Tensor, support: Tensor, temperature: float = 0.1
) -> Tensor:
    r"""NNCLR's symmetric loss ``(ctr(NN(z1), p2) + ctr(NN(z2), p1)) / 2``.

    Each view's projection is replaced by its nearest neighbour in the support set
    (:func:`nearest_neighbours`), which must then identify the other view's prediction among
    the global batch (:func:`nnclr_contrastive`); the paper symmetrises the loss
    (Section 3.1). While the support set is still empty (the very first step), each
    projection is its own neighbour, which is the loss with :math:`\mathrm{NN}(z) = z`.

    Args:
        z1, z2: ``[B, D]`` projections of views 1 and 2 (used only to search the support set).
        p1, p2: ``[B, D]`` predictions of views 1 and 2 (the gradient flows through these).
        support: ``[M, D]`` support set (``M`` may be 0).
        temperature: :math:`\tau` (0.1 in the paper).

    Returns:
        Scalar loss.

    Example:
        >>> z1, z2, p1, p2 = (torch.randn(8, 16) for _ in range(4))
        >>> loss = nnclr_loss(z1, z2, p1, p2, support=torch.randn(64, 16))
    """
    check_pair("nnclr_loss", z1, z2)
    check_pair("nnclr_loss", p1, p2)
    if support.shape[0] == 0:
        neighbours1, neighbours2 = z1.detach(), z2.detach()
    else:
        neighbours1, neighbours2 = nearest_neighbours(z1, support), nearest_neighbours(z2, support)
    return 0.5 * (nnclr_contrastive(neighbours1, p2, temperature)
                  + nnclr_contrastive(neighbours2, p1, temperature))

"""NNCLR's nearest-neighbour contrastive loss (Dwibedi et al. 2021, "With a Little Help from My
Friends: Nearest-Neighbor Contrastive Learning of Visual Representations", eq. 2).

The positive of a view is the nearest neighbour of its projection in a support set. All
similarities are cosine similarities (inputs are l2-normalised here); the neighbours carry no
gradient, as in the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.nn.gather import gather, rank
from selfsup.validate import check_pair, check_positive


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

"""Decoupled contrastive losses (Yeh et al. 2022): DCL, where the positive pair leaves the
InfoNCE denominator, and DCLW, which re-weights the positive term (:func:`vmf_weights`).

Similarities and distribution as :mod:`selfsup.losses.two_view_similarities`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.losses.two_view_similarities import two_view_similarities
from selfsup.nn.gather import gather
from selfsup.validate import check_pair


def dcl_loss(
    z1: Tensor, z2: Tensor, temperature: float = 0.1, weights: Tensor | None = None
) -> Tensor:
    r"""Decoupled contrastive loss (Yeh et al. 2022, "Decoupled Contrastive Learning", eq. 6).

    NT-Xent with the positive pair removed from the denominator, which removes the
    "negative-positive coupling" that shrinks NT-Xent's gradient for easy positives or few
    negatives. For view :math:`k` of sample :math:`i`,

    .. math::
        \ell^{(k)}_i = -w_i\,\langle z^{(1)}_i, z^{(2)}_i\rangle/\tau
            + \log \sum_{l \in \{1,2\},\, j \ne i} \exp(\langle z^{(k)}_i, z^{(l)}_j\rangle/\tau)

    averaged over the :math:`2N` anchors; :math:`w_i = 1` for DCL (see :func:`dclw_loss`).

    Args:
        z1: ``[B, D]`` embeddings of the first view (normalised here).
        z2: ``[B, D]`` embeddings of the second view; row ``i`` is the positive of ``z1[i]``.
        temperature: :math:`\tau`.
        weights: optional ``[B]`` weights :math:`w_i` of this process's positive pairs (both
            directions of a pair share the weight); ``None`` means 1.

    Returns:
        Scalar loss.

    Example:
        >>> loss = dcl_loss(torch.randn(8, 16), torch.randn(8, 16), temperature=0.1)
    """
    check_pair("dcl_loss", z1, z2)
    s = two_view_similarities(z1, z2)
    positive = s.positive / temperature
    if weights is not None:
        if weights.shape != (z1.shape[0],):
            raise ValueError(
                f"dcl_loss weights must have shape [B] = ({z1.shape[0]},), "
                f"got {tuple(weights.shape)}"
            )
        positive = positive * weights.repeat(2)
    negatives = (s.sim / temperature).masked_fill(s.is_self | s.is_positive, float("-inf"))
    return (torch.logsumexp(negatives, dim=1) - positive).mean()


@torch.no_grad()
def vmf_weights(z1: Tensor, z2: Tensor, sigma: float = 0.5) -> Tensor:
    r"""DCLW's negative von Mises-Fisher weights of the positive pairs (Yeh et al. 2022).

    .. math::
        w_i = 2 - \frac{\exp(\langle z^{(1)}_i, z^{(2)}_i\rangle/\sigma)}
                      {\mathbb{E}_j[\exp(\langle z^{(1)}_j, z^{(2)}_j\rangle/\sigma)]}

    The expectation runs over the positive pairs of the global batch (gathered), so
    :math:`\mathbb{E}_i[w_i] = 1` and harder positives (lower similarity) weigh more. As in the
    authors' code and lightly, the weights are constants for the gradient.

    Returns:
        ``[B]`` weights of this process's pairs.
    """
    check_pair("vmf_weights", z1, z2)
    scaled = (F.normalize(z1, dim=1) * F.normalize(z2, dim=1)).sum(dim=1) / sigma
    scaled_all = gather(scaled)
    return 2 - scaled_all.shape[0] * torch.exp(scaled - torch.logsumexp(scaled_all, dim=0))


def dclw_loss(z1: Tensor, z2: Tensor, temperature: float = 0.1, sigma: float = 0.5) -> Tensor:
    r"""Weighted decoupled contrastive loss (DCLW, Yeh et al. 2022): :func:`dcl_loss` with the
    positive term weighted by :func:`vmf_weights` (:math:`\sigma = 0.5` in the paper).

    Shapes: ``z1, z2: [B, D]`` -> scalar.
    """
    return dcl_loss(z1, z2, temperature, weights=vmf_weights(z1, z2, sigma))

r"""SwAV's swapped prediction loss (Caron et al. 2020, "Unsupervised Learning of Visual Features
by Contrasting Cluster Assignments", eq. 1–2 with multi-crop, Section 3.2, eq. 6).

A per-sample mean, so ``W`` processes with ``B`` samples each (DDP averages their losses and
gradients) optimise the full-batch objective provided the codes are the global ones — which
:func:`selfsup.nn.sinkhorn.sinkhorn` ensures.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.validate import check_positive


def swav_loss(scores: Sequence[Tensor], codes: Sequence[Tensor], temperature: float = 0.1) -> Tensor:
    r"""SwAV's swapped prediction loss over ``V`` views, of which the first ``G`` have codes.

    Each code :math:`q_s` (of a global view :math:`s`) is predicted from every *other* view
    :math:`t` through :math:`p_t = \operatorname{softmax}(z_t^\top C / \tau)` (eq. 2):

    .. math::
        \ell(z_t, q_s) = -\sum_k q_s^{(k)} \log p_t^{(k)}, \qquad
        \mathcal{L} = \frac{1}{G} \sum_{s=1}^{G} \frac{1}{V - 1} \sum_{t \ne s}
                      \frac{1}{B} \sum_{b} \ell(z_{t,b}, q_{s,b})

    With ``V = G = 2`` this is eq. 1, :math:`\ell(z_t, q_s) + \ell(z_s, q_t)` halved; the
    normalisation by ``G (V - 1)`` follows the official ``main_swav.py``.

    Args:
        scores: ``V`` tensors ``[B, K]``, the prototype scores :math:`z_t^\top C` of each view
            (unit ``z`` and prototypes: cosine similarities), with gradient.
        codes: ``G <= V`` tensors ``[B, K]``, codes of views ``0 .. G-1`` (rows sum to 1,
            e.g. from :func:`~selfsup.nn.sinkhorn.sinkhorn`); treated as constants.
        temperature: :math:`\tau` (0.1 in the paper).

    Returns:
        Scalar loss.

    Example:
        >>> scores = [torch.randn(8, 5) for _ in range(3)]
        >>> codes = [torch.softmax(torch.randn(8, 5), 1) for _ in range(2)]
        >>> loss = swav_loss(scores, codes, temperature=0.1)
    """
    if len(scores) < 2 or not 1 <= len(codes) <= len(scores):
        raise ValueError(f"swav_loss needs at least 2 views and 1..{len(scores)} codes, got "
                         f"{len(scores)} score tensors and {len(codes)} codes")
    shape = scores[0].shape
    if any(s.shape != shape for s in scores) or any(q.shape != shape for q in codes) or len(shape) != 2:
        raise ValueError("swav_loss expects every score and code tensor to have the same "
                         f"shape [B, K]; got {[tuple(s.shape) for s in scores]} and "
                         f"{[tuple(q.shape) for q in codes]}")
    check_positive(temperature=temperature)
    log_probs = [F.log_softmax(s / temperature, dim=1) for s in scores]
    total = scores[0].new_zeros(())
    for s, q in enumerate(codes):
        q = q.detach()
        others = [t for t in range(len(scores)) if t != s]
        cross_entropies = [-(q * log_probs[t]).sum(dim=1).mean() for t in others]
        total = total + torch.stack(cross_entropies).mean()
    return total / len(codes)

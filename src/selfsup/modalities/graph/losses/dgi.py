r"""Deep Graph Infomax's discriminator loss (Veličković, Fedus, Hamilton, Liò, Bengio, Hjelm 2019,
"Deep Graph Infomax", ICLR, eq. 1): binary cross-entropy of a discriminator that tells the
(node, summary) pairs of the real graph from those of a corrupted one.

Per sample: no cross-process gather (the summary a process uses is its own graph's).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def dgi_loss(positive_logits: Tensor, negative_logits: Tensor) -> Tensor:
    r"""DGI's objective (eq. 1), as a loss to minimise:

    .. math::
        \mathcal{L} = -\frac{1}{N + M} \Big( \sum_{i=1}^{N} \log \sigma(D(\vec h_i, \vec s))
            + \sum_{j=1}^{M} \log \big(1 - \sigma(D(\tilde{\vec h}_j, \vec s))\big) \Big)

    with :math:`D` the discriminator's logit (:math:`\sigma` applied here, in the numerically
    stable form of ``binary_cross_entropy_with_logits``).

    Args:
        positive_logits: ``[N]`` logits :math:`D(\vec h_i, \vec s)` of the real graph's nodes.
        negative_logits: ``[M]`` logits :math:`D(\tilde{\vec h}_j, \vec s)` of the corrupted
            graph's nodes.

    Returns:
        Scalar, :math:`\log 2` for a discriminator that cannot tell them apart (all logits 0).

    Example:
        >>> dgi_loss(torch.tensor([5.0, 5.0]), torch.tensor([-5.0])) < 0.01
        tensor(True)
    """
    if positive_logits.dim() != 1 or negative_logits.dim() != 1:
        raise ValueError(f"dgi_loss expects two 1-d logit vectors, got shapes {tuple(positive_logits.shape)} "
                         f"and {tuple(negative_logits.shape)}")
    logits = torch.cat([positive_logits, negative_logits])
    labels = torch.cat([torch.ones_like(positive_logits), torch.zeros_like(negative_logits)])
    return F.binary_cross_entropy_with_logits(logits, labels)


class DGILoss(nn.Module):
    """Module form of :func:`dgi_loss` (Veličković et al. 2019, eq. 1).

    Shapes: ``positive_logits: [N]``, ``negative_logits: [M]`` -> scalar.
    """

    def forward(self, positive_logits: Tensor, negative_logits: Tensor) -> Tensor:
        return dgi_loss(positive_logits, negative_logits)

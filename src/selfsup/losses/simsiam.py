"""SimSiam's negative cosine similarity, which applies the stop-gradient itself (Chen & He 2021,
"Exploring Simple Siamese Representation Learning", eq. 1 and 3). Per sample: no cross-process
gather.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.validate import check_pair


def simsiam_loss(p: Tensor, z: Tensor) -> Tensor:
    r"""SimSiam's negative cosine similarity with stop-gradient (Chen & He 2021, "Exploring
    Simple Siamese Representation Learning", eq. 1 and 3).

    .. math::
        \mathcal{D}(p, \mathrm{stopgrad}(z)) = -\frac{p}{\|p\|_2} \cdot \frac{z}{\|z\|_2},

    averaged over the batch. The stop-gradient is applied here (``z.detach()``, as in the
    paper's Algorithm 1): ``z`` is a constant target, and without it SimSiam collapses
    (Section 4.1). The symmetrised loss of eq. 4 is
    ``0.5 * simsiam_loss(p1, z2) + 0.5 * simsiam_loss(p2, z1)``. Per sample: no gather.

    Args:
        p: ``[B, D]`` predictions :math:`h(f(x_1))`.
        z: ``[B, D]`` projections :math:`f(x_2)` of the other view (receives no gradient).

    Returns:
        Scalar in ``[-1, 1]``.

    Example:
        >>> loss = 0.5 * simsiam_loss(p1, z2) + 0.5 * simsiam_loss(p2, z1)  # doctest: +SKIP
    """
    check_pair("simsiam_loss", p, z)
    return -F.cosine_similarity(p, z.detach(), dim=-1).mean()


class SimSiamLoss(nn.Module):
    """Symmetrised SimSiam loss (Chen & He 2021, eq. 4) of :func:`simsiam_loss`.

    Shapes: ``p1, p2, z1, z2: [B, D]`` -> scalar; ``z1, z2`` receive no gradient.
    """

    def forward(self, p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
        return 0.5 * simsiam_loss(p1, z2) + 0.5 * simsiam_loss(p2, z1)

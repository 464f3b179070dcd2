r"""GraphCL's contrastive loss (You, Chen, Sui, Chen, Wang, Shen 2020, "Graph Contrastive Learning
with Augmentations", eq. 3): NT-Xent with inter-view negatives only, :func:`graphcl_loss` and its
module form :class:`GraphCLLoss`.

For graph :math:`n` of a batch of :math:`N`, with :math:`z_{n,i}` and :math:`z_{n,j}` the
projections of its two augmented views,

.. math::
    \ell_n = -\log \frac{\exp(\mathrm{sim}(z_{n,i}, z_{n,j})/\tau)}
        {\sum_{n'=1, n' \ne n}^{N} \exp(\mathrm{sim}(z_{n,i}, z_{n',j})/\tau)}

with :math:`\mathrm{sim}` the cosine similarity. Two things set it apart from SimCLR's NT-Xent
(:func:`selfsup.losses.nt_xent.nt_xent`): the negatives of an anchor are only the *other view's*
other graphs (no :math:`\mathrm{sim}(z_{n,i}, z_{n',i})` terms), and the denominator leaves the
positive out (as DCL does), so :math:`\ell_n` can be negative. The anchors are the first view's
graphs, as in the authors' code (``loss_cal`` of ``unsupervised_TU/gsimclr.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.validate import check_pair, check_positive_number


def graphcl_loss(z1: Tensor, z2: Tensor, temperature: float = 0.2) -> Tensor:
    r"""GraphCL loss (eq. 3) of two batches of paired graph projections.

    Args:
        z1: ``[N, D]`` projections of the first view (the anchors; not necessarily normalised).
        z2: ``[N, D]`` projections of the second view; row ``n`` is the positive of ``z1[n]``,
            every other row one of its negatives.
        temperature: :math:`\tau`.

    Returns:
        Scalar: the mean of :math:`\ell_n` over the :math:`N` graphs. Negatives come from this
        process's batch only (no gathering across processes).

    Example:
        >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = graphcl_loss(z1, z2, temperature=0.2)
    """
    check_pair("graphcl_loss", z1, z2)
    check_positive_number(temperature, "temperature")
    if z1.shape[0] < 2:
        raise ValueError(f"graphcl_loss needs at least 2 graphs (one positive, one negative), "
                         f"got {z1.shape[0]}")
    logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / temperature  # [N, N]
    positive = logits.diagonal()
    # Denominator: every n' != n of the other view, so the positive is masked out of the sum.
    eye = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
    negatives = torch.logsumexp(logits.masked_fill(eye, float("-inf")), dim=1)
    return (negatives - positive).mean()


class GraphCLLoss(nn.Module):
    """Module form of :func:`graphcl_loss` (GraphCL, You et al. 2020, eq. 3).

    Args:
        temperature: :math:`\\tau`.

    Shapes: ``z1: [N, D]``, ``z2: [N, D]`` -> scalar.
    """

    def __init__(self, temperature: float = 0.2) -> None:
        super().__init__()
        self.temperature = check_positive_number(temperature, "temperature")

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return graphcl_loss(z1, z2, self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"

"""Debiased contrastive loss (Chuang et al. 2020): the negative term of NT-Xent corrected for
same-class "negatives" with a class prior :math:`\\tau^+`.

Similarities and distribution as :mod:`selfsup.losses.two_view_similarities`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from selfsup.losses.two_view_similarities import two_view_similarities
from selfsup.validate import check_pair


def debiased_contrastive_loss(
    z1: Tensor, z2: Tensor, temperature: float = 0.5, tau_plus: float = 0.1
) -> Tensor:
    r"""Debiased contrastive loss (Chuang et al. 2020, "Debiased Contrastive Learning").

    Negatives drawn from the data include same-class samples with probability :math:`\tau^+`
    (the class prior). The debiased objective replaces the negative term by an estimate of the
    sum over *true* negatives, built from the :math:`N' = 2N - 2` negatives :math:`u_k` and the
    positive :math:`v` of each anchor :math:`x` (one positive, :math:`M = 1`):

    .. math::
        \ell = -\log \frac{e^{s(x,v)/t}}{e^{s(x,v)/t} + N' g},\qquad
        g = \max\Big\{\frac{1}{\tau^-}\Big(\frac{1}{N'}\sum_k e^{s(x,u_k)/t}
                     - \tau^+ e^{s(x,v)/t}\Big),\; e^{-1/t}\Big\}

    with :math:`\tau^- = 1 - \tau^+` and the clamp at :math:`e^{-1/t}`, the smallest value
    :math:`e^{s/t}` takes for cosines (so :math:`N' g \ge N' e^{-1/t}`). With
    :math:`\tau^+ = 0` the clamp never binds and the loss *is* NT-Xent
    (:func:`~selfsup.losses.nt_xent.nt_xent`, SimCLR eq. 1).

    Args:
        z1, z2: ``[B, D]`` paired embeddings (normalised here).
        temperature: :math:`t`.
        tau_plus: :math:`\tau^+ \in [0, 1)`.

    Returns:
        Scalar loss, the mean over the :math:`2N` anchors.
    """
    check_pair("debiased_contrastive_loss", z1, z2)
    if not 0.0 <= tau_plus < 1.0:
        raise ValueError(f"tau_plus must be in [0, 1), got {tau_plus}")
    s = two_view_similarities(z1, z2)
    logits = s.sim / temperature
    num_negatives = s.sim.shape[1] - 2
    # Every term is scaled by exp(-shift) (a per-row constant) so exp cannot overflow; the ratio
    # inside the log, clamp included, is unchanged.
    shift = logits.masked_fill(s.is_self, float("-inf")).amax(dim=1, keepdim=True).detach()
    log_positive = s.positive / temperature - shift.squeeze(1)
    positive = torch.exp(log_positive)
    negative_sum = torch.exp(logits - shift).masked_fill(s.is_self | s.is_positive, 0.0).sum(dim=1)
    estimate = (negative_sum - tau_plus * num_negatives * positive) / (1.0 - tau_plus)
    floor = num_negatives * torch.exp(-1.0 / temperature - shift.squeeze(1))
    estimate = torch.maximum(estimate, floor)
    return (torch.log(positive + estimate) - log_positive).mean()

"""Supervised contrastive loss :math:`L^{sup}_{out}` (Khosla et al. 2020): every view of the
same class is a positive.

Similarities and distribution as :mod:`selfsup.losses.two_view_similarities`; the labels are
gathered with the embeddings.
"""

from __future__ import annotations

import torch
from torch import Tensor

from selfsup.losses.two_view_similarities import two_view_similarities
from selfsup.nn.gather import gather
from selfsup.validate import check_pair


def supcon_loss(z1: Tensor, z2: Tensor, labels: Tensor, temperature: float = 0.1) -> Tensor:
    r"""Supervised contrastive loss :math:`L^{sup}_{out}` (Khosla et al. 2020, eq. 2).

    Over the :math:`2N` views of the (global) batch, anchor :math:`i` has positives
    :math:`P(i)`, every other view with the same label (its own other view included), and
    contrasts against :math:`A(i)`, every view but itself:

    .. math::
        \ell_i = \frac{-1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{\exp(z_i \cdot z_p/\tau)}{\sum_{a \in A(i)} \exp(z_i \cdot z_a/\tau)}

    averaged over anchors. With all labels distinct it is NT-Xent. Labels are gathered with
    the embeddings, so positives are found across processes.

    Args:
        z1, z2: ``[B, D]`` embeddings of the two views (normalised here).
        labels: ``[B]`` integer class labels of the samples.
        temperature: :math:`\tau`.

    Returns:
        Scalar loss.
    """
    check_pair("supcon_loss", z1, z2)
    if labels.shape != (z1.shape[0],):
        raise ValueError(
            f"supcon_loss expects labels of shape [B] = ({z1.shape[0]},), got {tuple(labels.shape)}"
        )
    s = two_view_similarities(z1, z2)
    labels_all = gather(labels)
    same_label = torch.cat([labels, labels]).unsqueeze(1) == torch.cat(
        [labels_all, labels_all]
    ).unsqueeze(0)
    is_positive = same_label & ~s.is_self
    logits = (s.sim / temperature).masked_fill(s.is_self, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    mean_log_prob_positive = log_prob.masked_fill(~is_positive, 0.0).sum(dim=1) / is_positive.sum(
        dim=1
    )
    return -mean_log_prob_positive.mean()

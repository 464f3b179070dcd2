"""MV-InfoNCE (Koromilas et al. 2025): one InfoNCE term per sample over all of its
:math:`V \\ge 2` views.

Conventions of the InfoNCE variants, shared with :func:`selfsup.losses.nt_xent.nt_xent`:
embeddings are l2-normalised here (similarities are cosines); negatives come from the global
batch through the autograd-aware :func:`selfsup.nn.gather.gather`; the anchors are this
process's embeddings, so the mean of the per-process losses (what DDP optimises) equals the
single-process loss on the full batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.nn.gather import gather, rank


def mv_infonce_loss(views: Sequence[Tensor], temperature: float = 0.5) -> Tensor:
    r"""MV-InfoNCE (Koromilas et al. 2025, "A Principled Framework for Multi-View Contrastive
    Learning", Sec. IV): one loss term per sample over all pairs of its :math:`V` views.

    With :math:`U_{i,l}` the normalised embedding of view :math:`l` of sample :math:`i` among the
    :math:`M` samples of the global batch,

    .. math::
        \ell_i = -\log \frac{\sum_{l}\sum_{l' \ne l} e^{U_{i,l}^\top U_{i,l'}/\tau}}
            {\sum_{l}\sum_{(j,m) \ne (i,l)} e^{U_{i,l}^\top U_{j,m}/\tau}}

    The numerator aligns all views of :math:`i` at once; the denominator holds every
    interaction of each of its views with the other :math:`MV - 1` embeddings (same-view
    and cross-view negatives, and the positives). This is the authors' implementation
    (``MVINFONCE`` in github.com/pakoromilas/Multi-View-CL); the README of that repository
    writes the denominator over cross-view pairs :math:`m \ne l` only.

    Two views: with :math:`D_{i,k}` the NT-Xent denominator of anchor :math:`(i,k)`,
    :math:`\ell_i = -\log \frac{e^{s_i/\tau}}{(D_{i,1} + D_{i,2})/2}`: InfoNCE with the
    *arithmetic* mean of the two anchors' denominators, where NT-Xent averages the two log terms
    (a *geometric* mean). So MV-InfoNCE :math:`\ge` NT-Xent, with equality when
    :math:`D_{i,1} = D_{i,2}` for every sample.

    Args:
        views: :math:`V \ge 2` tensors ``[B, D]``; row ``i`` of every view is sample ``i``.
        temperature: :math:`\tau`.

    Returns:
        Scalar loss, the mean of :math:`\ell_i` over the samples.
    """
    if len(views) < 2:
        raise ValueError(f"mv_infonce_loss needs at least 2 views, got {len(views)}")
    shape = views[0].shape
    if len(shape) != 2 or any(v.shape != shape for v in views):
        raise ValueError(
            "mv_infonce_loss expects views of equal shape [B, D], got "
            f"{[tuple(v.shape) for v in views]}"
        )
    batch, num_views = shape[0], len(views)
    z = F.normalize(torch.stack(list(views), dim=1), dim=2)  # [B, V, D]
    z_all = gather(z)  # [M, V, D]
    logits = z.reshape(batch * num_views, -1) @ z_all.reshape(-1, z.shape[2]).T / temperature
    # Row (i, l) = i * V + l; column (j, m) = j * V + m in the global numbering.
    global_sample = (torch.arange(batch, device=z.device) + rank() * batch).repeat_interleave(
        num_views
    )
    column_sample = torch.arange(z_all.shape[0], device=z.device).repeat_interleave(num_views)
    rows = torch.arange(batch * num_views, device=z.device)
    is_self = torch.zeros_like(logits, dtype=torch.bool)
    is_self[rows, global_sample * num_views + rows % num_views] = True
    is_positive = (global_sample.unsqueeze(1) == column_sample.unsqueeze(0)) & ~is_self
    numerator = torch.logsumexp(
        logits.masked_fill(~is_positive, float("-inf")).reshape(batch, -1), dim=1
    )
    denominator = torch.logsumexp(
        logits.masked_fill(is_self, float("-inf")).reshape(batch, -1), dim=1
    )
    return (denominator - numerator).mean()

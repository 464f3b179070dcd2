"""TS2Vec's hierarchical contrastive loss over per-timestamp latents ``[B, T, D]``.

:func:`instance_contrastive_loss` and :func:`temporal_contrastive_loss` are the two terms of
TS2Vec's dual contrast (Yue et al. 2022, "TS2Vec: Towards Universal Representation of Time
Series", AAAI, eqs. 2 and 3), and :func:`hierarchical_contrastive_loss` their sum over
max-pooled scales (Algorithm 1). :func:`check_sequence_pair` is the input check these losses
share with CPC's (:mod:`selfsup.modalities.timeseries.losses.cpc`).

They use the local batch only (TS2Vec trains on one device), so nothing is gathered across
processes: under DDP each process contrasts its own samples, as in the paper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def check_sequence_pair(r1: Tensor, r2: Tensor, name: str) -> None:
    """A ValueError naming the loss ``name`` unless ``r1`` and ``r2`` are ``[B, T, D]`` tensors of
    equal shape with ``B, T >= 1``."""
    if r1.dim() != 3 or r1.shape != r2.shape:
        raise ValueError(f"{name} expects two [B, T, D] tensors of equal shape, got "
                         f"{tuple(r1.shape)} and {tuple(r2.shape)}")
    if r1.shape[0] < 1 or r1.shape[1] < 1:
        raise ValueError(f"{name} needs at least one sample and one timestamp, got {tuple(r1.shape)}")


def _paired_cross_entropy(z: Tensor) -> Tensor:
    """Mean InfoNCE over groups of ``2n`` candidates where row ``i``'s positive is ``i ± n``.

    ``z: [G, 2n, D]`` holds, for each of ``G`` groups, the ``n`` latents of view 1 followed by
    the ``n`` latents of view 2. Each of the ``2n`` rows is an anchor; its candidates are the
    other ``2n - 1`` rows of its group (similarity = dot product, no temperature, as in
    TS2Vec), its positive the same row of the other view.
    """
    n = z.shape[1] // 2
    sim = z @ z.transpose(1, 2)  # [G, 2n, 2n]
    eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    # A latent is not its own candidate: drop the diagonal from every softmax.
    log_prob = F.log_softmax(sim.masked_fill(eye, float("-inf")), dim=-1)
    rows = torch.arange(2 * n, device=z.device)
    positives = (rows + n) % (2 * n)
    return -log_prob[:, rows, positives].mean()


def instance_contrastive_loss(r1: Tensor, r2: Tensor) -> Tensor:
    r"""TS2Vec's instance-wise contrastive loss (eq. 3), both directions.

    At every timestamp :math:`t` the anchor :math:`r_{i,t}` (sample :math:`i`, view 1) must
    identify :math:`r'_{i,t}` (view 2) among the latents of all samples at :math:`t` in both
    views, itself excluded (:math:`2B - 1` candidates):

    .. math::
        \ell^{(i,t)}_{inst} = -\log \frac{\exp(r_{i,t} \cdot r'_{i,t})}
            {\sum_{j=1}^{B} \big(\exp(r_{i,t} \cdot r'_{j,t})
             + \mathbb{1}_{[i \ne j]} \exp(r_{i,t} \cdot r_{j,t})\big)}

    and symmetrically with view 2 as the anchor; the result is the mean over samples,
    timestamps and both directions. With ``B == 1`` the only candidate is the positive and
    the loss is 0.

    Args:
        r1: ``[B, T, D]`` latents of view 1 on the timestamps both views share.
        r2: ``[B, T, D]`` latents of view 2 on the same timestamps.

    Returns:
        Scalar loss.

    Example:
        >>> loss = instance_contrastive_loss(torch.randn(8, 20, 32), torch.randn(8, 20, 32))
    """
    check_sequence_pair(r1, r2, "instance_contrastive_loss")
    # One group per timestamp: [T, 2B, D].
    return _paired_cross_entropy(torch.cat([r1, r2], dim=0).transpose(0, 1))


def temporal_contrastive_loss(r1: Tensor, r2: Tensor) -> Tensor:
    r"""TS2Vec's temporal contrastive loss (eq. 2), both directions.

    For sample :math:`i` the anchor :math:`r_{i,t}` must identify :math:`r'_{i,t}` (the same
    timestamp in the other view) among the latents of the *same sample* at every timestamp
    of both views, itself excluded (:math:`2T - 1` candidates):

    .. math::
        \ell^{(i,t)}_{temp} = -\log \frac{\exp(r_{i,t} \cdot r'_{i,t})}
            {\sum_{t'=1}^{T} \big(\exp(r_{i,t} \cdot r'_{i,t'})
             + \mathbb{1}_{[t \ne t']} \exp(r_{i,t} \cdot r_{i,t'})\big)}

    and symmetrically; mean over samples, timestamps and both directions. With ``T == 1``
    the loss is 0.

    Args:
        r1: ``[B, T, D]`` latents of view 1 on the shared timestamps.
        r2: ``[B, T, D]`` latents of view 2 on the same timestamps.

    Returns:
        Scalar loss.
    """
    check_sequence_pair(r1, r2, "temporal_contrastive_loss")
    # One group per sample: [B, 2T, D].
    return _paired_cross_entropy(torch.cat([r1, r2], dim=1))


def hierarchical_contrastive_loss(
    r1: Tensor, r2: Tensor, alpha: float = 0.5, temporal_unit: int = 0
) -> Tensor:
    r"""TS2Vec's hierarchical contrasting (Algorithm 1).

    At scale :math:`s = 0, 1, \dots` add
    :math:`\alpha\,\ell_{inst} + (1 - \alpha)\,\ell_{temp}` (the temporal term only from scale
    ``temporal_unit`` on), then max-pool both views over time with kernel 2 and stride 2
    (an odd last timestamp is dropped, as ``F.max_pool1d`` does); stop when one timestamp is
    left, where only the instance term is added. The result is the mean over the scales
    visited:

    .. math::
        \mathcal{L} = \frac{1}{S} \sum_{s=0}^{S-1}
            \big(\alpha\,\ell_{inst}(r^{(s)}, r'^{(s)})
                 + (1 - \alpha)\,\mathbb{1}_{[s \ge u,\, T_s > 1]}\,\ell_{temp}(r^{(s)}, r'^{(s)})\big)

    Args:
        r1: ``[B, T, D]`` latents of view 1 on the shared timestamps.
        r2: ``[B, T, D]`` latents of view 2 on the same timestamps.
        alpha: weight of the instance term, :math:`1 - \alpha` of the temporal term
            (0.5 in the paper).
        temporal_unit: first scale with a temporal term (TS2Vec's code; 0 = every scale).

    Returns:
        Scalar loss.

    Example:
        >>> loss = hierarchical_contrastive_loss(torch.randn(8, 20, 32), torch.randn(8, 20, 32))
    """
    check_sequence_pair(r1, r2, "hierarchical_contrastive_loss")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    loss = r1.new_zeros(())
    scales = 0
    while r1.shape[1] > 1:
        if alpha > 0:
            loss = loss + alpha * instance_contrastive_loss(r1, r2)
        if scales >= temporal_unit and alpha < 1:
            loss = loss + (1 - alpha) * temporal_contrastive_loss(r1, r2)
        scales += 1
        r1 = F.max_pool1d(r1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        r2 = F.max_pool1d(r2.transpose(1, 2), kernel_size=2).transpose(1, 2)
    # The top of the hierarchy: one latent per sample, instance contrast only.
    if alpha > 0:
        loss = loss + alpha * instance_contrastive_loss(r1, r2)
    scales += 1
    return loss / scales

r"""ColloSSL's device selection, contrastive sampling and multi-view contrastive loss.

Jain, Tang, Min, Kawsar, Mathur 2022, "ColloSSL: Collaborative Self-Supervised Learning for Human
Activity Recognition" (Proc. ACM IMWUT 6(1)); the method that combines them is
:class:`selfsup.modalities.timeseries.methods.collossl.ColloSSL`, whose docstring gives the equations and defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "contrastive_sampling_masks", "device_features", "device_mmd", "feature_mmd",
    "gaussian_mmd", "multiview_contrastive_loss", "rank_devices",
]

SELECTIONS = ("mmd", "random", "all")
MMD_FEATURES = ("norm", "raw")
#: kernel widths, as multiples of the median distance between the anchor's windows
BANDWIDTH_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


# ----------------------------------------------------------------------------- device selection


def gaussian_mmd(x: Tensor, y: Tensor, bandwidths: Sequence[float] | Tensor) -> Tensor:
    r"""Squared Maximum Mean Discrepancy of two samples with a mixture of Gaussian kernels.

    The biased (V-statistic) estimate of Gretton et al. 2012, clamped at 0:

    .. math::
        \widehat{\mathrm{MMD}}^2(X, Y) = \frac{1}{n^2}\sum_{i,j} k(x_i, x_j)
            + \frac{1}{m^2}\sum_{i,j} k(y_i, y_j) - \frac{2}{nm}\sum_{i,j} k(x_i, y_j),
        \qquad k(a, b) = \frac{1}{|S|}\sum_{\sigma \in S} e^{-\lVert a - b\rVert^2 / 2\sigma^2}

    Args:
        x: ``[n, F]`` samples of the first distribution.
        y: ``[m, F]`` samples of the second.
        bandwidths: the widths :math:`S` (positive).

    Returns:
        Scalar tensor, 0 when ``x`` and ``y`` are the same sample.
    """
    sigma = torch.as_tensor(bandwidths, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        squared = torch.cdist(a, b).pow(2)
        return torch.exp(-squared.unsqueeze(0) / (2 * sigma**2)).mean(0)

    value = kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()
    return value.clamp_min(0.0)


def device_features(x: Tensor, features: str = "norm") -> Tensor:
    """What device selection compares: ``x [B, D, T, C]`` -> ``[B, D, F]``.

    ``"norm"``: the Euclidean norm over channels at each timestamp (``F = T``), invariant to how a
    device is rotated on the body — the released code's ``mmd_acc_norm`` metric, taken there over
    the 3 accelerometer axes, here over all ``C`` channels. ``"raw"``: the flattened window
    (``F = T * C``). NaN (padding) counts as 0.
    """
    if features not in MMD_FEATURES:
        raise ValueError(f"features must be one of {MMD_FEATURES}, got {features!r}")
    x = x.detach()
    if x.dtype not in (torch.float32, torch.float64):  # integers, or half precision under AMP
        x = x.float()
    x = torch.nan_to_num(x, nan=0.0)
    if features == "norm":
        return x.norm(dim=-1)
    return x.flatten(2)


def device_mmd(
    x: Tensor,
    anchor: int,
    features: str = "norm",
    bandwidth_scales: Sequence[float] = BANDWIDTH_SCALES,
) -> Tensor:
    """MMD between the anchor device's windows and every device's: ``x [B, D, T, C]`` -> ``[D]``.

    :func:`device_features` then :func:`feature_mmd`; the anchor's own entry is 0.
    """
    return feature_mmd(device_features(x, features), anchor, bandwidth_scales)


def feature_mmd(
    feats: Tensor, anchor: int, bandwidth_scales: Sequence[float] = BANDWIDTH_SCALES
) -> Tensor:
    """:func:`gaussian_mmd` of ``feats[:, anchor]`` and each ``feats[:, d]``: ``[B, D, F]`` -> ``[D]``.

    One kernel for every pair, so the distances compare: its widths are ``bandwidth_scales`` times
    the median distance between the anchor's own windows (the median heuristic; 1 when that is 0).
    """
    anchor_feats = feats[:, anchor]
    distances = torch.cdist(anchor_feats, anchor_feats)
    off_diagonal = distances[~torch.eye(len(distances), dtype=torch.bool, device=distances.device)]
    median = off_diagonal.median() if off_diagonal.numel() else distances.new_tensor(0.0)
    if not median > 0:
        median = distances.new_tensor(1.0)
    bandwidths = median * torch.tensor(bandwidth_scales, dtype=feats.dtype, device=feats.device)
    return torch.stack([gaussian_mmd(anchor_feats, feats[:, d], bandwidths) for d in range(feats.shape[1])])


def rank_devices(
    distances: Tensor,
    anchor: int,
    num_positives: int = 1,
    num_negatives: int | None = None,
    selection: str = "mmd",
    generator: torch.Generator | None = None,
) -> tuple[list[int], list[int]]:
    """Positive and negative devices from the distances of every device to the anchor.

    ``"mmd"``: the ``num_positives`` closest devices are positive, the next ``num_negatives``
    (None: all the others) negative. ``"random"``: the same counts from a random order (the
    paper's random-selection ablation). ``"all"``: every other device is positive, none negative.

    Args:
        distances: ``[D]`` distance of each device to the anchor (ignored except for ``"mmd"``).
        anchor: index of the anchor device, never selected.

    Returns:
        ``(positives, negatives)``: lists of device indices, closest first.
    """
    others = [d for d in range(distances.numel()) if d != anchor]
    if selection == "mmd":
        order = sorted(others, key=lambda d: (float(distances[d]), d))
    elif selection == "random":
        order = [others[i] for i in torch.randperm(len(others), generator=generator).tolist()]
    elif selection == "all":
        return others, []
    else:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    positives = order[:num_positives]
    rest = order[num_positives:]
    negatives = rest if num_negatives is None else rest[:num_negatives]
    return positives, negatives


# ----------------------------------------------------------------------------- sampling and loss


def contrastive_sampling_masks(
    batch_size: int,
    num_devices: int,
    anchor: int,
    positives: Sequence[int],
    negatives: Sequence[int],
    num_candidates: int | None = None,
    offset: int = 0,
) -> tuple[Tensor, Tensor]:
    """Which windows are positives and negatives of each anchor window (contrastive sampling).

    Candidate ``(d, j)`` is window ``j`` of the (global) batch seen by device ``d``. For anchor
    window ``i`` (global index ``offset + i``):

    * positive iff ``d`` is a positive device and ``j == offset + i`` (the same moment);
    * negative iff ``d`` is a negative device and ``j != offset + i`` (another moment).

    ``negatives`` may hold the anchor device itself or positive devices (their windows at other
    times); the anchor window ``(anchor, offset + i)`` is never a candidate of either kind.

    Args:
        batch_size: ``B``, anchor windows on this process.
        num_devices: ``D``.
        anchor: the anchor device (never a positive device).
        positives / negatives: device indices.
        num_candidates: ``N``, windows per device among the candidates (the global batch);
            default ``batch_size``.
        offset: global index of this process's first window (``rank * B``).

    Returns:
        ``(positive_mask, negative_mask)``, bool ``[B, D, N]``.
    """
    total = batch_size if num_candidates is None else num_candidates
    if anchor in positives:
        raise ValueError("the anchor device cannot be one of its own positive devices")
    same_time = torch.zeros(batch_size, total, dtype=torch.bool)
    same_time[torch.arange(batch_size), offset + torch.arange(batch_size)] = True
    positive_devices = torch.zeros(num_devices, dtype=torch.bool)
    positive_devices[list(positives)] = True
    negative_devices = torch.zeros(num_devices, dtype=torch.bool)
    negative_devices[list(negatives)] = True
    positive_mask = same_time[:, None, :] & positive_devices[None, :, None]
    negative_mask = ~same_time[:, None, :] & negative_devices[None, :, None]
    return positive_mask, negative_mask


def multiview_contrastive_loss(
    anchor: Tensor,
    candidates: Tensor,
    positive_mask: Tensor,
    negative_mask: Tensor,
    temperature: float = 0.05,
    positive_weights: Tensor | None = None,
    negative_weights: Tensor | None = None,
) -> Tensor:
    r"""ColloSSL's multi-view contrastive loss: InfoNCE with weighted positives and negatives.

    For anchor :math:`z_i` with positives :math:`\mathcal{P}_i` and negatives
    :math:`\mathcal{N}_i` (pairs of a device :math:`d` and a window :math:`j`),

    .. math::
        \ell_i = -\log \frac{\sum_{(p, j) \in \mathcal{P}_i} w^+_p\, e^{s(z_i, z^p_j)/\tau}}
            {\sum_{(p, j) \in \mathcal{P}_i} w^+_p\, e^{s(z_i, z^p_j)/\tau}
             + \sum_{(n, j) \in \mathcal{N}_i} w^-_n\, e^{s(z_i, z^n_j)/\tau}}

    with :math:`s` the cosine similarity; the loss is the mean of :math:`\ell_i` over anchors.

    Args:
        anchor: ``[B, E]`` anchor embeddings.
        candidates: ``[N, D, E]`` embeddings of window ``j`` on device ``d``.
        positive_mask / negative_mask: bool ``[B, D, N]`` (see :func:`contrastive_sampling_masks`);
            every anchor needs at least one positive.
        temperature: :math:`\tau`.
        positive_weights / negative_weights: ``[D]`` per-device :math:`w^+`, :math:`w^-`
            (default 1).

    Returns:
        Scalar loss.
    """
    if not bool(positive_mask.any(dim=(1, 2)).all()):
        raise ValueError("every anchor needs at least one positive")
    if bool((positive_mask & negative_mask).any()):
        raise ValueError("a candidate cannot be both a positive and a negative")
    anchor = F.normalize(anchor, dim=-1)
    candidates = F.normalize(candidates, dim=-1)
    logits = torch.einsum("be,nde->bdn", anchor, candidates) / temperature
    num_devices = candidates.shape[1]
    ones = logits.new_ones(num_devices)
    w_pos = ones if positive_weights is None else positive_weights.to(logits)
    w_neg = ones if negative_weights is None else negative_weights.to(logits)
    log_weight = torch.where(positive_mask, w_pos.log()[None, :, None], w_neg.log()[None, :, None])
    weighted = logits + log_weight
    numerator = weighted.masked_fill(~positive_mask, float("-inf")).flatten(1).logsumexp(1)
    denominator = weighted.masked_fill(~(positive_mask | negative_mask), float("-inf")).flatten(1).logsumexp(1)
    return (denominator - numerator).mean()

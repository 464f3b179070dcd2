"""Regularisers of the embedding distribution, usable on top of any method.

Each takes the ``[B, D]`` embeddings of a batch and returns a scalar to *minimise*:

- :func:`koleo_loss` — the Kozachenko–Leonenko differential-entropy estimator
  (Sablayrolles et al. 2019, "Spreading vectors for similarity search", eq. 4), the KoLeo
  regulariser DINOv2 adds to its objective (Oquab et al. 2024, Sec. 4).
- :func:`uniformity_loss` — the uniformity loss of Wang & Isola 2020 (ICML, eq. 3), which
  spreads normalised embeddings over the sphere.
- :func:`effective_rank_loss` — minus the log effective rank of the batch embedding matrix
  (Roy & Vetterli 2007; the quantity RankMe scores, Garrido et al. 2023, eq. 1), which
  penalises dimensional collapse.

The engine applies them to the encoder's outputs (``regularizers: {koleo: 0.1}`` in a recipe,
or ``--set regularizers.koleo=0.1``), so they work with any method that calls its encoder.

Distributed: all three see the global batch through :func:`selfsup.nn.gather.gather`. KoLeo and
uniformity average over this process's rows (anchors) against all rows, like NT-Xent; the
effective rank is a statistic of the whole gathered matrix, the same on every process. Their
test checks that 2 processes x B/2 give the loss and gradients of 1 process x B.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.nn.gather import gather, rank, world_size
from selfsup.registry import REGULARIZERS


def _check(z: Tensor, name: str) -> None:
    if z.dim() != 2 or z.shape[0] * world_size() < 2:
        raise ValueError(f"{name} expects [B, D] embeddings with at least 2 rows in all, got {tuple(z.shape)}")


def _self_mask(batch: int, total: int, device: torch.device) -> Tensor:
    """``[B, N]`` boolean mask of each local row's own column in the gathered matrix."""
    mask = torch.zeros(batch, total, dtype=torch.bool, device=device)
    local = torch.arange(batch, device=device)
    mask[local, local + rank() * batch] = True
    return mask


@REGULARIZERS.register(
    "koleo",
    paper="Sablayrolles et al. 2019, Spreading vectors for similarity search (used in DINOv2)",
    description="pushes every embedding away from its nearest neighbour in the batch",
)
def koleo_loss(z: Tensor, eps: float = 1e-8) -> Tensor:
    r"""KoLeo regulariser: minus the mean log distance of each embedding to its nearest neighbour.

    With :math:`\hat z_i = z_i / \|z_i\|` and :math:`\rho_i = \min_{j \ne i} \|\hat z_i - \hat z_j\|`,

    .. math::
        \mathcal{L}_{KoLeo} = -\frac{1}{n} \sum_{i=1}^{n} \log(\rho_i + \epsilon)

    (Sablayrolles et al. 2019, eq. 4 without its constants; DINOv2 applies it to the
    normalised class tokens of a batch with weight 0.1).

    Args:
        z: ``[B, D]`` embeddings (normalised here).
        eps: keeps the log finite for duplicate rows.
    """
    _check(z, "koleo_loss")
    anchors = F.normalize(z, dim=1)
    candidates = gather(anchors)
    # The nearest neighbour by cosine is the nearest by Euclidean distance on the sphere.
    similarity = (anchors @ candidates.T).masked_fill(
        _self_mask(anchors.shape[0], candidates.shape[0], z.device), -2.0
    )
    nearest = similarity.argmax(dim=1)
    distance = (anchors - candidates[nearest]).norm(dim=1)
    return -torch.log(distance + eps).mean()


@REGULARIZERS.register(
    "uniformity",
    paper="Wang & Isola 2020, Understanding Contrastive Representation Learning through "
    "Alignment and Uniformity on the Hypersphere",
    description="log of the mean Gaussian potential between normalised embeddings",
)
def uniformity_loss(z: Tensor, t: float = 2.0) -> Tensor:
    r"""Uniformity loss of Wang & Isola 2020 (eq. 3) over the (global) batch.

    .. math::
        \mathcal{L}_{uniform} = \log \frac{1}{n(n-1)} \sum_{i} \sum_{j \ne i} e^{-t \|\hat z_i - \hat z_j\|^2}

    Anchors are this process's rows and candidates all rows; the log is taken per anchor
    before averaging (``log`` of the row mean), so that the per-process mean of the loss is the
    single-process loss exactly. Wang & Isola's eq. 3 puts the log outside the double sum; the
    two have the same minimisers (a uniform spread) and differ by Jensen's gap.

    Args:
        z: ``[B, D]`` embeddings (normalised here).
        t: the paper's t = 2.
    """
    _check(z, "uniformity_loss")
    anchors = F.normalize(z, dim=1)
    candidates = gather(anchors)
    sq_dist = (2 - 2 * anchors @ candidates.T).clamp_min(0)
    log_kernel = (-t * sq_dist).masked_fill(_self_mask(anchors.shape[0], candidates.shape[0], z.device), -math.inf)
    return (torch.logsumexp(log_kernel, dim=1) - math.log(candidates.shape[0] - 1)).mean()


@REGULARIZERS.register(
    "effective_rank",
    paper="Roy & Vetterli 2007, The effective rank; Garrido et al. 2023, RankMe",
    description="minus the log effective rank of the batch embeddings (dimensional collapse)",
)
def effective_rank_loss(z: Tensor, eps: float = 1e-7) -> Tensor:
    r"""Minus the log effective rank (the entropy of the normalised singular values).

    With :math:`\sigma` the singular values of the gathered, centred ``[N, D]`` batch and
    :math:`p_k = \sigma_k / \|\sigma\|_1`,

    .. math::
        \mathcal{L} = \sum_k p_k \log p_k = -\log \mathrm{erank}(Z)

    Minimising it raises the effective rank (RankMe's score, up to centring) towards
    :math:`\min(N, D)`. Centring removes the mean direction, which would otherwise count as a
    used dimension. Gradients of singular values are unstable when two are equal; the loss
    is computed in float64 and ``eps`` keeps the logarithm finite.

    Args:
        z: ``[B, D]`` embeddings.
        eps: added to :math:`p_k`.
    """
    _check(z, "effective_rank_loss")
    embeddings = gather(z).double()
    embeddings = embeddings - embeddings.mean(dim=0, keepdim=True)
    sigma = torch.linalg.svdvals(embeddings)
    p = sigma / sigma.sum().clamp_min(1e-12) + eps
    return (p * p.log()).sum().to(z.dtype)

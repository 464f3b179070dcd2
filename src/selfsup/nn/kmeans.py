r"""Spherical k-means on l2-normalised vectors (DeepCluster-v2's clustering step).

Caron et al. 2020 (SwAV paper), Appendix "DeepCluster-v2" and ``cluster_memory`` in the
official ``main_deepclusterv2.py``: centroids start at random samples; each iteration assigns
every vector to the centroid of largest dot product (cosine similarity: both are unit
vectors) and moves each centroid to the normalised mean of its vectors,

.. math::
    a_i = \arg\max_k \langle x_i, c_k \rangle, \qquad
    c_k \leftarrow \frac{\sum_{i: a_i = k} x_i}{\| \sum_{i: a_i = k} x_i \|}.

An empty cluster keeps its previous centroid (as the official code does). The assignments
returned are those of the *returned* centroids (a final assignment step follows the last
update), so every sample is assigned to its nearest centroid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: rows per similarity block, so an [N, K] matrix is never held at once for large N
CHUNK = 65536


@torch.no_grad()
def nearest_centroid(x: Tensor, centroids: Tensor) -> Tensor:
    """Index of the centroid with the largest dot product for every row of ``x``.

    Args:
        x: ``[N, D]`` (unit vectors for the cosine similarity).
        centroids: ``[K, D]``.

    Returns:
        ``[N]`` long.
    """
    return torch.cat([(block @ centroids.T).argmax(dim=1) for block in x.split(CHUNK)])


@torch.no_grad()
def spherical_kmeans(
    x: Tensor,
    num_clusters: int,
    iterations: int = 10,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Cluster the unit vectors ``x`` into ``num_clusters`` groups by cosine similarity.

    Args:
        x: ``[N, D]``; rows are l2-normalised here (a copy), so any non-zero vectors work.
        num_clusters: :math:`K \\le N`.
        iterations: centroid updates (10 in DeepCluster-v2, ``nmb_kmeans_iters``).
        generator: CPU generator drawing the initial centroids (same seed, same result).

    Returns:
        ``(centroids [K, D] unit vectors, assignments [N] long)`` with ``assignments`` the
        nearest centroid of each row.

    Example:
        >>> centroids, assignments = spherical_kmeans(torch.randn(100, 8), num_clusters=5)
    """
    if x.dim() != 2:
        raise ValueError(f"spherical_kmeans expects x of shape [N, D], got {tuple(x.shape)}")
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, int) or num_clusters < 1:
        raise ValueError(f"num_clusters must be a positive integer, got {num_clusters!r}")
    if num_clusters > x.shape[0]:
        raise ValueError(f"spherical_kmeans needs at least num_clusters={num_clusters} vectors, "
                         f"got {x.shape[0]}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"iterations must be an integer >= 0, got {iterations!r}")
    x = F.normalize(x.detach().float(), dim=1)
    start = torch.randperm(x.shape[0], generator=generator)[:num_clusters].to(x.device)
    centroids = x[start].clone()
    for _ in range(iterations):
        assignments = nearest_centroid(x, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, assignments, x)
        counts = torch.bincount(assignments, minlength=num_clusters)
        filled = counts > 0
        centroids[filled] = F.normalize(sums[filled], dim=1)
    return centroids, nearest_centroid(x, centroids)

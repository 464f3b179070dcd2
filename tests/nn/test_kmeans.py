"""Spherical k-means (DeepCluster-v2's clustering step)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from selfsup.nn.kmeans import nearest_centroid, spherical_kmeans


def _blobs(per_blob: int = 20, dim: int = 6, blobs: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(blobs, dim, generator=g), dim=1)
    x = centres.repeat_interleave(per_blob, 0) + 0.05 * torch.randn(blobs * per_blob, dim, generator=g)
    return x, torch.arange(blobs).repeat_interleave(per_blob)


def test_kmeans_assignments_are_the_nearest_centroid():
    x = torch.randn(200, 5)
    centroids, assignments = spherical_kmeans(x, num_clusters=7, iterations=3,
                                              generator=torch.Generator().manual_seed(0))
    similarity = F.normalize(x, dim=1) @ centroids.T
    # Loop over samples: the assigned centroid has the largest cosine similarity.
    for i in range(x.shape[0]):
        assert similarity[i, assignments[i]] >= similarity[i].max() - 1e-6


def test_kmeans_centroids_are_unit_vectors_at_the_normalised_mean_of_their_members():
    x, _ = _blobs()
    centroids, assignments = spherical_kmeans(x, 3, iterations=10, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(centroids.norm(dim=1), torch.ones(3))
    unit = F.normalize(x, dim=1)
    for k in range(3):
        members = unit[assignments == k]
        torch.testing.assert_close(centroids[k], F.normalize(members.sum(0), dim=0), atol=1e-5, rtol=1e-5)


def test_kmeans_recovers_well_separated_blobs():
    x, truth = _blobs()
    _, assignments = spherical_kmeans(x, 3, iterations=10, generator=torch.Generator().manual_seed(0))
    # Same partition up to a relabelling: each blob maps to one cluster, all distinct.
    mapping = {int(truth[i]): int(assignments[i]) for i in range(len(truth))}
    assert all(mapping[int(t)] == int(a) for t, a in zip(truth, assignments))
    assert len(set(mapping.values())) == 3


def test_kmeans_same_generator_seed_gives_the_same_result():
    x = torch.randn(50, 4)
    a = spherical_kmeans(x, 4, generator=torch.Generator().manual_seed(3))
    b = spherical_kmeans(x, 4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_nearest_centroid_uses_the_dot_product():
    centroids = torch.eye(3)
    x = torch.tensor([[0.1, 0.9, 0.0], [0.0, 0.2, -0.5], [2.0, 0.0, 1.0]])
    assert nearest_centroid(x, centroids).tolist() == [1, 1, 0]


def test_kmeans_rejects_more_clusters_than_vectors():
    with pytest.raises(ValueError, match="at least num_clusters=5"):
        spherical_kmeans(torch.randn(4, 3), 5)

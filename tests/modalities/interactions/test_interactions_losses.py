"""The recommendation losses against independent formulations."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from selfsup.modalities.interactions.losses.bpr import bpr_loss, embedding_l2
from selfsup.modalities.interactions.losses.infonce import info_nce, prototype_nce


def test_bpr_is_minus_log_sigmoid_of_the_score_differences():
    torch.manual_seed(0)
    u, i, j = torch.randn(3, 7, 5).unbind(0)
    loop = 0.0
    for b in range(7):
        difference = float(u[b] @ i[b] - u[b] @ j[b])
        loop += -math.log(1.0 / (1.0 + math.exp(-difference)))
    assert abs(float(bpr_loss(u, i, j)) - loop / 7) < 1e-5


def test_embedding_l2_is_half_the_squared_norms_per_sample():
    a, b = torch.ones(4, 3), 2 * torch.ones(4, 3)
    assert float(embedding_l2(a, b)) == (12 + 48) / 8


def test_info_nce_is_cross_entropy_over_the_similarity_matrix():
    torch.manual_seed(0)
    a, p = torch.randn(2, 9, 6).unbind(0)
    logits = F.normalize(a, dim=1) @ F.normalize(p, dim=1).T / 0.2
    expected = F.cross_entropy(logits, torch.arange(9))
    assert torch.allclose(info_nce(a, p, 0.2), expected, atol=1e-6)
    assert torch.allclose(info_nce(a, p, 0.2, reduction="sum"), expected * 9, atol=1e-5)


def test_info_nce_with_candidates_ranks_the_positive_among_them():
    torch.manual_seed(1)
    a = torch.randn(4, 6)
    candidates = torch.randn(10, 6)
    target = torch.tensor([3, 0, 9, 3])
    logits = F.normalize(a, dim=1) @ F.normalize(candidates, dim=1).T / 0.1
    expected = F.cross_entropy(logits, target, reduction="sum")
    assert torch.allclose(info_nce(a, candidates[target], 0.1, candidates=candidates, reduction="sum"), expected,
                          atol=1e-4)
    assert torch.allclose(prototype_nce(a, target, candidates, 0.1), expected, atol=1e-4)

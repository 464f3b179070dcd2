r"""Feature masking for two views of the same items (Yao et al. 2021, "Self-supervised Learning for
Large-scale Item Recommendations", Section 3.2).

Both views of an item mask complementary halves of its ``F`` features: view one masks a set
:math:`F_m`, view two the rest, so the two views share no feature and the contrast must relate
what one half says to what the other says.

- **Correlated Feature Masking** (CFM, :func:`correlated_masks`): with the mutual information
  between every pair of features counted over the catalogue,

  .. math:: MI(V_i, V_j) = \sum_{v_i, v_j} P(v_i, v_j) \log \frac{P(v_i, v_j)}{P(v_i) P(v_j)}

  (:func:`feature_mutual_information`), each item draws a seed feature uniformly and
  :math:`F_m` is the seed with the ``ceil(F / 2) - 1`` features of highest MI with it: features that
  predict each other are masked together, so no view keeps an easy copy of what the other lost.
- **Random Feature Masking** (RFM, :func:`random_masks`): :math:`F_m` is ``ceil(F / 2)`` features
  drawn uniformly, the paper's baseline.

Masks are ``[B, F]`` bool (True: masked), one pair per item, drawn on the items' device.
"""

from __future__ import annotations

import torch
from torch import Tensor


def feature_mutual_information(codes: Tensor) -> Tensor:
    """``[F, F]`` mutual information (nats) between the columns of ``codes [N, F]`` (int64
    categories), from their empirical joint distribution over the ``N`` rows."""
    n, f = codes.shape
    codes = codes.long()
    mi = torch.zeros(f, f, dtype=torch.float64)
    marginals = [torch.bincount(codes[:, j]).double() / n for j in range(f)]
    for i in range(f):
        for j in range(i, f):
            width = int(codes[:, j].max()) + 1
            # the occupied cells only: with an ID column the full table would be N x N
            cells, counts = torch.unique(codes[:, i] * width + codes[:, j], return_counts=True)
            p = counts.double() / n
            expected = marginals[i][cells // width] * marginals[j][cells % width]
            mi[i, j] = mi[j, i] = float((p * torch.log(p / expected)).sum())
    return mi


def masked_count(num_features: int) -> int:
    """Features masked in the first view: half, rounded up (the paper's ``n/2`` for an odd ``n``:
    with 3 features, the seed and its partner, so the MI still chooses)."""
    return (num_features + 1) // 2


def correlated_masks(mutual_information: Tensor, batch: int, device: torch.device | str = "cpu"
                     ) -> tuple[Tensor, Tensor]:
    """CFM's complementary masks ``([B, F], [B, F])`` (module doc); ``mutual_information [F, F]``."""
    f = mutual_information.shape[0]
    seeds = torch.randint(f, (batch,), device=device)
    scores = mutual_information.to(device=device, dtype=torch.float32)[seeds].clone()  # [B, F]
    scores[torch.arange(batch, device=device), seeds] = float("inf")  # the seed itself is always masked
    # a random tie-break, so equally informative features are not always chosen in index order
    scores = scores + torch.rand(scores.shape, device=device) * 1e-6
    chosen = torch.topk(scores, masked_count(f), dim=1).indices
    first = torch.zeros(batch, f, dtype=torch.bool, device=device)
    first[torch.arange(batch, device=device)[:, None], chosen] = True
    return first, ~first


def random_masks(num_features: int, batch: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """RFM's complementary masks ``([B, F], [B, F])``: a uniform half of the features, and the rest."""
    order = torch.rand(batch, num_features, device=device).argsort(1)
    first = order < masked_count(num_features)
    return first, ~first

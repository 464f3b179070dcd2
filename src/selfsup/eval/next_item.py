r"""Next-item ranking metrics: the leave-one-out evaluation of sequential recommenders.

The protocol of SASRec (Kang & McAuley 2018, Section IV-A "Evaluation Metrics") and of the papers
that follow it (CL4SRec, Xie et al. 2022; RecBole's sequential models): each entity's last event is
held out of training; the model, given the events before it, scores every item of the catalogue;
the held-out item's **rank** :math:`r` (1 = best) gives

.. math::
    \mathrm{HR@}k = \mathbb{1}[r \le k], \qquad
    \mathrm{NDCG@}k = \frac{\mathbb{1}[r \le k]}{\log_2(r + 1)}

averaged over the entities (one relevant item per entity, so the ideal DCG is 1).

Conventions, stated because published numbers differ by them:

- **Full ranking** over all items, not against 100 sampled negatives (SASRec's paper samples 100;
  RecBole's ``full`` mode and most later work rank all items).
- **Items the entity has already seen are not excluded**: RecBole's full-sort evaluation masks the
  history only for general (non-sequential) recommenders; for sequential models it masks nothing
  but the padding item (``FullSortEvalDataLoader`` passes no history for them).
- **Ties count against the target**: :math:`r = 1 + \#\{j \ne t: s_j \ge s_t\}`, so a constant
  scorer ranks every target last rather than first.
- A target **not in the catalogue** (an item that never occurs in training, so the model cannot
  score it) counts as a miss and stays in the denominator.

:func:`target_ranks`, :func:`hit_rate_at_k`, :func:`ndcg_at_k` work on plain tensors;
:class:`NextItemTargets` is what a data source carries (``DataSource.next_item``) for the engine's
final evaluation (:func:`selfsup.engine.evaluation.evaluate_next_item`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

#: the target of an entity whose held-out item is not in the catalogue (scored as a miss)
NOT_IN_CATALOGUE = -1
#: the rank of such a target: past any ``k``
NEVER_RANKED = torch.iinfo(torch.int64).max


@dataclass
class NextItemTargets:
    """A data source's leave-one-out next-item task.

    Attributes:
        field: the name of the field whose values are the items.
        num_items: the catalogue size: scores have one column per item, ``0 .. num_items - 1``.
        train / test: ``[N]`` int64 per sample of the split, the column of its held-out item, or
            :data:`NOT_IN_CATALOGUE`; None when the split is absent.
        train_evaluated / test_evaluated: ``[N]`` bool, the samples that have a held-out item (an
            entity with a single event has none and is left out).
        counts: ``[num_items]`` how many training events hold each item (the popularity baseline).
    """

    field: str
    num_items: int
    train: Tensor
    train_evaluated: Tensor
    counts: Tensor
    test: Tensor | None = None
    test_evaluated: Tensor | None = None


def target_ranks(scores: Tensor, targets: Tensor) -> Tensor:
    """``[B]`` 1-based rank of each target among all items.

    Args:
        scores: ``[B, num_items]``, higher is better.
        targets: ``[B]`` int64 columns of ``scores``, or :data:`NOT_IN_CATALOGUE` (rank
            :data:`NEVER_RANKED`: a miss at any ``k``).

    Ties count against the target (module doc).

    Example:
        >>> target_ranks(torch.tensor([[0.1, 0.9, 0.5]]), torch.tensor([2]))
        tensor([2])
    """
    if scores.dim() != 2 or targets.shape != scores.shape[:1]:
        raise ValueError(f"target_ranks expects scores [B, I] and targets [B]; got {tuple(scores.shape)} "
                         f"and {tuple(targets.shape)}")
    known = targets >= 0
    own = scores.gather(1, targets.clamp(min=0)[:, None])  # [B, 1]
    ranks = (scores >= own).sum(1)  # the target itself counts once: rank = 1 + others at or above it
    return torch.where(known, ranks, torch.full_like(ranks, NEVER_RANKED))


def hit_rate_at_k(ranks: Tensor, k: int = 10) -> float:
    """HR@k: the share of targets ranked in the top ``k`` (``ranks [N]``, 1-based)."""
    return float((ranks <= k).float().mean()) if len(ranks) else float("nan")


def ndcg_at_k(ranks: Tensor, k: int = 10) -> float:
    """NDCG@k with one relevant item: the mean of ``1 / log2(rank + 1)`` over targets in the top
    ``k`` (0 for the others)."""
    if not len(ranks):
        return float("nan")
    gains = torch.where(ranks <= k, 1.0 / torch.log2(ranks.double() + 1.0), torch.zeros((), dtype=torch.float64))
    return float(gains.mean())


def ranking_scores(ranks: Tensor, k: int = 10) -> dict[str, float]:
    """``{"hr@k": …, "ndcg@k": …}`` of ``ranks [N]``."""
    return {f"hr@{k}": round(hit_rate_at_k(ranks, k), 4), f"ndcg@{k}": round(ndcg_at_k(ranks, k), 4)}


def popularity_ranks(counts: Tensor, targets: Tensor) -> Tensor:
    """``[N]`` ranks under the popularity baseline: every entity is offered the items by their
    training count ``counts [num_items]`` (ties against the target, as in :func:`target_ranks`)."""
    ordered = counts.sort().values
    own = counts[targets.clamp(min=0)]
    ranks = len(counts) - torch.searchsorted(ordered, own)  # items counted at least as often
    return torch.where(targets >= 0, ranks, torch.full_like(ranks, NEVER_RANKED))

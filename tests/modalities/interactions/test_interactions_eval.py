"""Full-ranking metrics against a brute-force loop, and their conventions."""

from __future__ import annotations

import math

import torch

from selfsup.eval.recommendation import (
    RecommendationTask,
    UserItems,
    long_tail_items,
    popularity_scores,
    ranking_metrics,
)


def toy_task(seed: int = 0, users: int = 30, items: int = 40) -> tuple[RecommendationTask, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(users, items, generator=g)
    pairs = torch.rand(users, items, generator=g)
    train, test = pairs < 0.3, (pairs >= 0.3) & (pairs < 0.4)
    def csr(mask):
        u, i = torch.nonzero(mask, as_tuple=True)
        return UserItems.from_pairs(u, i, users)
    task = RecommendationTask(users, items, csr(train), item_counts=train.sum(0), test=csr(test))
    return task, scores


def brute_force(task: RecommendationTask, scores: torch.Tensor, k: int) -> dict[str, float]:
    totals = {"recall": 0.0, "ndcg": 0.0, "mrr": 0.0, "hit": 0.0}
    n = 0
    for u in range(task.num_users):
        _, held = task.test.rows(torch.tensor([u]))
        if len(held) == 0:
            continue
        _, seen = task.train.rows(torch.tensor([u]))
        ranked = [i for i in torch.argsort(scores[u], descending=True).tolist() if i not in set(seen.tolist())][:k]
        relevant = set(held.tolist())
        hits = [1.0 if i in relevant else 0.0 for i in ranked]
        totals["recall"] += sum(hits) / len(relevant)
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant))))
        totals["ndcg"] += dcg / idcg
        totals["mrr"] += next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0)
        totals["hit"] += float(any(hits))
        n += 1
    return {f"{key}@{k}": value / n for key, value in totals.items()}


def test_ranking_metrics_equal_a_brute_force_loop_with_training_items_excluded():
    task, scores = toy_task()
    got = ranking_metrics(lambda users: scores[users].clone(), task, "test", ks=(5, 10), chunk_users=7)
    for k in (5, 10):
        for key, value in brute_force(task, scores, k).items():
            assert abs(got[key] - value) < 1e-3, key


def test_metrics_do_not_depend_on_the_user_chunk():
    task, scores = toy_task(seed=3)
    one = ranking_metrics(lambda users: scores[users].clone(), task, "test", chunk_users=1)
    many = ranking_metrics(lambda users: scores[users].clone(), task, "test", chunk_users=1000)
    assert one == many


def test_popularity_offers_the_most_counted_items_first():
    task, _ = toy_task()
    scores = popularity_scores(task)(torch.tensor([0]))
    assert int(scores.argmax()) == int(torch.argsort(task.item_counts, descending=True, stable=True)[0])


def test_long_tail_is_every_item_outside_the_top_fifth():
    counts = torch.tensor([9, 1, 8, 2, 7, 3, 6, 4, 5, 0])
    assert long_tail_items(counts).tolist() == [False, True, False, True, True, True, True, True, True, True]

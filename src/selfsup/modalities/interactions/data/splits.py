"""Train / validation / test splits of interactions, the three protocols of the literature.

- ``ratio``: each user's interactions in a seeded random order, cut by ``ratios`` (RecBole's
  ``RS`` split grouped by user, its default for general recommenders: 0.8 / 0.1 / 0.1). As in
  RecBole, the validation and test counts are rounded down, then a part that would get a fraction
  of an interaction (``0 < ratio · n < 1``) takes one from training while training keeps more
  than one.
- ``time``: by timestamp, per user (``time_scope="user"``: each user's oldest ``ratios[0]``
  train) or globally (``"global"``: the oldest ``ratios[0]`` of all interactions train, the next
  ``ratios[1]`` validate, the newest test).
- ``loo``: leave-one-out by time (He et al. 2017, NCF): each user's latest interaction tests, the
  one before validates; a user with two keeps one for training and tests one.

Every function returns ``part [n]`` with 0 = train, 1 = validation, 2 = test.
"""

from __future__ import annotations

import numpy as np

from selfsup.errors import SelfsupError

SPLITS = ("ratio", "time", "loo")
TRAIN, VALID, TEST = 0, 1, 2


def check_ratios(ratios: list[float] | tuple[float, ...]) -> np.ndarray:
    values = np.asarray(ratios, dtype=np.float64) if isinstance(ratios, (list, tuple)) else None
    if values is None or values.ndim != 1 or len(values) not in (2, 3) or (values < 0).any() or values[0] <= 0 \
            or not np.isfinite(values).all():
        raise SelfsupError(f"data.options.ratios is [train, test] or [train, valid, test] with positive shares; "
                           f"got {ratios!r}.")
    values = values / values.sum()
    return values if len(values) == 3 else np.array([values[0], 0.0, values[1]])


def _positions(users: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For interactions visited in ``order`` (grouped by user), each one's position within its user
    and its user's count (both indexed like ``users``)."""
    sorted_users = users[order]
    counts = np.bincount(users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.empty(len(users), dtype=np.int64)
    position[order] = np.arange(len(users)) - starts[sorted_users]
    return position, counts[users]


def _cut(position: np.ndarray, total: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """Parts from each interaction's position within its user's ``total`` (RecBole's rounding)."""
    n_valid = np.floor(ratios[1] * total).astype(np.int64)
    n_test = np.floor(ratios[2] * total).astype(np.int64)
    n_train = total - n_valid - n_test
    for n_part, ratio in ((n_test, ratios[2]), (n_valid, ratios[1])):  # the last part first, as RecBole
        bump = (n_train > 1) & (ratio * total > 0) & (ratio * total < 1)
        n_part += bump
        n_train -= bump
    return np.where(position < n_train, TRAIN, np.where(position < n_train + n_valid, VALID, TEST))


def split_ratio(users: np.ndarray, ratios: np.ndarray, seed: int) -> np.ndarray:
    """Random per-user split (module doc)."""
    random = np.random.default_rng(seed).random(len(users))
    order = np.lexsort((random, users))
    position, total = _positions(users, order)
    return _cut(position, total, ratios)


def split_time(users: np.ndarray, times: np.ndarray, ratios: np.ndarray, scope: str) -> np.ndarray:
    """Chronological split per user or over all interactions (module doc)."""
    if scope == "global":
        order = np.lexsort((np.arange(len(times)), times))
        n = len(times)
        n_train = round(float(ratios[0]) * n)
        n_valid = round(float(ratios[1]) * n)
        part = np.full(n, TEST, dtype=np.int64)
        part[order[:n_train]] = TRAIN
        part[order[n_train:n_train + n_valid]] = VALID
        return part
    if scope != "user":
        raise SelfsupError(f"data.options.time_scope is 'user' or 'global'; got {scope!r}.")
    order = np.lexsort((np.arange(len(users)), times, users))
    position, total = _positions(users, order)
    return _cut(position, total, ratios)


def split_leave_one_out(users: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Each user's latest interaction tests, the one before validates (module doc)."""
    order = np.lexsort((np.arange(len(users)), times, users))
    position, total = _positions(users, order)
    from_end = total - 1 - position
    part = np.full(len(users), TRAIN, dtype=np.int64)
    part[(from_end == 0) & (total >= 2)] = TEST
    part[(from_end == 1) & (total >= 3)] = VALID
    return part


def split_interactions(users: np.ndarray, times: np.ndarray | None, split: str, ratios: list[float],
                       seed: int, time_scope: str = "user", where: str = "the data") -> tuple[np.ndarray, list[str]]:
    """``part [n]`` (0 train, 1 validation, 2 test) by the ``split`` protocol, and notes on users the
    split leaves without test items."""
    if split not in SPLITS:
        raise SelfsupError(f"data.options.split is one of {', '.join(SPLITS)}; got {split!r}.")
    if split in ("time", "loo") and times is None:
        raise SelfsupError(f"data.options.split={split!r} orders interactions by time, and {where} has no time column "
                           "(set data.options.time_column, or use split: ratio).")
    if split == "ratio":
        part = split_ratio(users, check_ratios(ratios), seed)
    elif split == "time":
        part = split_time(users, times, check_ratios(ratios), time_scope)
    else:
        part = split_leave_one_out(users, times)
    notes = []
    tested = np.bincount(users[part == TEST], minlength=int(users.max()) + 1) > 0
    untested = int((~tested).sum())
    if untested:
        notes.append(f"{where}: the {split} split leaves {untested:,} of {len(tested):,} users without test items (too "
                     "few interactions); they train but are not evaluated.")
    if not tested.any():
        raise SelfsupError(f"{where}: the {split} split leaves no user with a test item; use more data or other "
                           "data.options.ratios.")
    if not (part == TRAIN).any():
        raise SelfsupError(f"{where}: the {split} split leaves no training interaction.")
    return part, notes

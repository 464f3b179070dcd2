"""Built-in event sequences, all offline:

- ``ml-100k-sequences``: MovieLens 100K (Harper & Konstan 2015) as 943 users' time-ordered
  sequences of (item, genre, rating) events, read from the atomic files the RecBole wheel ships
  (``recbole/dataset_example/ml-100k/ml-100k.inter``, ``.user``, ``.item``). RecBole's
  dependency pins pull in packages selfsup does not need, so install it without them —
  ``pip install --no-deps recbole`` — and the files are found with ``importlib.util.find_spec``
  without importing the package. Entity labels: ``age_group`` (default: <25, 25-34, 35-44, 45+),
  ``gender``, ``occupation`` (``data.options.target``). ``data.options.next_item: item_id`` holds
  each user's last rating out as the next-item target (the leave-one-out protocol of SASRec and
  RecBole on this data).
- ``synthetic_transactions``: seeded card transactions whose client class drives everything
  (:func:`synthetic_transactions_frame`); no dependency.

As for the other built-ins, the run's ``seed`` chooses the split, never the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from selfsup.data.recbole import ml100k_folder, read_atomic
from selfsup.errors import SelfsupError
from selfsup.modalities.events.data.source import EventSource, event_source
from selfsup.registry import DATASETS

ML100K_TARGETS = ("age_group", "gender", "occupation")
AGE_GROUPS = ((0, 24, "<25"), (25, 34, "25-34"), (35, 44, "35-44"), (45, 200, "45+"))


def ml100k_frames(target: str = "age_group") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The events (``user_id, timestamp, item_id, genre, rating``; the genre is the item's first
    listed one) and the users' labels (``user_id`` and ``target``)."""
    if target not in ML100K_TARGETS:
        raise SelfsupError(f"data.options.target for ml-100k-sequences is one of {', '.join(ML100K_TARGETS)}; "
                           f"got {target!r}.")
    folder = ml100k_folder("ml-100k-sequences")
    inter, items, users = (read_atomic(folder / f"ml-100k.{kind}") for kind in ("inter", "item", "user"))
    genre = items.set_index("item_id")["class"].str.split(" ").str[0]
    events = pd.DataFrame({"user_id": inter["user_id"], "timestamp": inter["timestamp"].astype(np.int64),
                           "item_id": inter["item_id"], "genre": inter["item_id"].map(genre).fillna("unknown"),
                           "rating": inter["rating"].astype(np.float32)})
    if target == "age_group":
        ages = users["age"].astype(int)
        label = np.select([(ages >= lo) & (ages <= hi) for lo, hi, _ in AGE_GROUPS], [g for *_, g in AGE_GROUPS], default="45+")
    else:
        label = users[target].to_numpy()
    return events, pd.DataFrame({"user_id": users["user_id"], target: label})


# slices of at most 64 events (the median history): the long histories (up to 737 ratings) would
# otherwise set the cost of every CoLES step on a CPU
@DATASETS.register("ml-100k-sequences", modality="events", n=943, view_defaults={"max_events": 64},
                   description="MovieLens 100K users as time-ordered (item, genre, rating) sequences, 20-737 "
                   "events each (pip install --no-deps recbole); labels age_group (default), gender, occupation")
def ml100k_sequences(seed: int = 0, test_fraction: float = 0.2, target: str = "age_group",
                     max_length: int | None = None, next_item: str | None = None) -> EventSource:
    events, labels = ml100k_frames(target)
    return event_source(events, name="ml-100k-sequences", entity="user_id", time="timestamp",
                        categorical=["item_id", "genre"], numeric=["rating"], target=target, labels=labels,
                        max_length=max_length, seed=seed, test_fraction=test_fraction,
                        row_name=lambda p: f"line {p + 2} of ml-100k.inter", next_item=next_item)


def synthetic_transactions_frame(clients: int = 1000, num_classes: int = 4, categories: int = 20,
                                 mean_events: float = 60.0, timing: str = "poisson", seed: int = 0) -> pd.DataFrame:
    """Card transactions of ``clients`` clients, each of a latent class ``c`` that drives
    (1) a Markov chain over ``categories`` merchant categories (transition rows: 0.8 of a shared
    Dirichlet draw and 0.2 of the class's own, so order carries signal beyond the category counts),
    (2) log-normal amounts (sigma 1) whose mean per category moves a little with the class, and
    (3) the timing: a Poisson process
    with a class rate, or (``timing="hawkes"``) a self-exciting Hawkes process (Hawkes 1971)
    with the class's base rate, excitation 0.5 and decay 1 per day, drawn by Ogata's thinning.
    Columns: ``client, day, mcc, amount, segment`` (the class, a label)."""
    if timing not in ("poisson", "hawkes"):
        raise SelfsupError(f"data.options.timing is 'poisson' or 'hawkes'; got {timing!r}.")
    for option, value in (("clients", clients), ("num_classes", num_classes), ("categories", categories)):
        if not isinstance(value, int) or value < 2:
            raise SelfsupError(f"data.options.{option} must be a whole number of at least 2; got {value!r}.")
    rng = np.random.default_rng(seed)
    shared = rng.dirichlet(np.full(categories, 0.3), categories)
    own = rng.dirichlet(np.full(categories, 0.3), (num_classes, categories))
    transitions = 0.8 * shared[None] + 0.2 * own
    log_means = rng.normal(3.0, 0.6, categories)[None] + rng.normal(0.0, 0.1, (num_classes, categories))
    rates = rng.uniform(0.8, 1.25, num_classes)  # events per day
    y = rng.integers(0, num_classes, clients)
    lengths = np.maximum(5, rng.poisson(mean_events, clients))
    # every client's chain at once: step t draws each client's next category from its row
    cumulative = np.cumsum(transitions, axis=2)
    states = np.empty((clients, int(lengths.max())), dtype=np.int64)
    states[:, 0] = rng.integers(categories, size=clients)
    for t in range(1, states.shape[1]):
        draws = rng.random(clients)[:, None]
        states[:, t] = np.minimum((cumulative[y, states[:, t - 1]] < draws).sum(1), categories - 1)
    rows = []
    for client, (c, n) in enumerate(zip(y, lengths)):
        chain = states[client, :n]
        rows.append(pd.DataFrame({"client": f"client{client}", "day": _event_days(rng, n, rates[c], timing),
                                  "mcc": [f"mcc{s}" for s in chain],
                                  "amount": np.round(rng.lognormal(log_means[c, chain], 1.0), 2),
                                  "segment": f"segment{c}"}))
    return pd.concat(rows, ignore_index=True)


def _event_days(rng: np.random.Generator, n: int, rate: float, timing: str) -> np.ndarray:
    if timing == "poisson":
        return np.round(np.cumsum(rng.exponential(1.0 / rate, n)), 4)
    alpha, decay, base = 0.5, 1.0, rate * 0.5  # stationary rate base / (1 - alpha) = rate
    times, t, excitation = [], 0.0, 0.0
    while len(times) < n:  # Ogata thinning: the intensity only decays between events
        bound = base + excitation
        step = rng.exponential(1.0 / bound)
        t, excitation = t + step, excitation * np.exp(-decay * step)
        if rng.random() * bound <= base + excitation:
            times.append(t)
            excitation += alpha * decay
    return np.round(np.asarray(times), 4)


@DATASETS.register("synthetic_transactions", modality="events", n=1000,
                   description="seeded card transactions: 1,000 clients, ~60 events each (merchant category, "
                   "amount, time), 4 client segments driving a Markov chain, log-normal amounts, Poisson timing")
def synthetic_transactions(seed: int = 0, test_fraction: float = 0.2, clients: int = 1000, num_classes: int = 4,
                           categories: int = 20, mean_events: float = 60.0, timing: str = "poisson",
                           data_seed: int = 0, max_length: int | None = None,
                           next_item: str | None = None) -> EventSource:
    frame = synthetic_transactions_frame(clients, num_classes, categories, mean_events, timing, data_seed)
    return event_source(frame, name="synthetic_transactions", entity="client", time="day", categorical="mcc",
                        numeric="amount", target="segment", max_length=max_length, seed=seed,
                        test_fraction=test_fraction, next_item=next_item)

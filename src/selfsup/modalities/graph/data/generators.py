"""Seeded, offline graph generators in plain NumPy.

- :func:`sbm_citation`: a degree-corrected stochastic block model that stands in for the Cora
  citation graph (node classification, Planetoid split);
- :func:`selfsup.modalities.graph.data.motifs.synthetic_motifs` (its own module): random
  graphs, each with one planted motif whose type is its label (graph classification).

Both return arrays in PyG's layout: ``x [N, F]`` float32 and ``edge_index [2, E]`` int64 holding
both directions of every undirected edge, no self loops, no duplicates, sorted by (source,
target). The same ``seed`` gives the same arrays.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from selfsup.errors import SelfsupError

# Cora's class sizes in PyG's label order (Sen et al. 2008); their shares set the class sizes
# of a 7-class graph.
CORA_CLASS_SIZES = (351, 217, 418, 818, 426, 298, 180)

# Planetoid split (Yang, Cohen & Salakhutdinov 2016): labelled nodes per class, validation, test.
TRAIN_PER_CLASS, NUM_VAL, NUM_TEST = 20, 500, 1000

_MAX_ROUNDS = 100  # rounds of redrawing rejected (duplicate) edges before giving up


def sbm_citation(
    num_nodes: int = 2708,
    num_classes: int = 7,
    num_features: int = 1433,
    homophily: float = 0.81,
    mean_degree: float = 3.9,
    degree_exponent: float = 2.5,
    words_per_node: float = 18.0,
    topic_concentration: float = 0.05,
    feature_signal: float = 0.25,
    features: str = "bow",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """A generated stand-in for the Cora citation graph (Sen et al. 2008), with the Planetoid
    split (Yang, Cohen & Salakhutdinov 2016).

    Edges come from a degree-corrected stochastic block model (Karrer & Newman 2011). Each node
    has a propensity drawn from a power law, so degrees are heavy-tailed as Cora's are. There
    are ``round(num_nodes * mean_degree / 2)`` undirected edges, of which
    ``round(homophily * edges)`` join two nodes of the same class (edge homophily); both counts
    are exact, up to one edge of rounding. An intra-class edge picks a node in proportion to its
    propensity, then a partner of its class in proportion to propensity; an inter-class edge
    picks both ends in proportion to propensity among pairs of different classes. When
    ``mean_degree >= 2`` every node first gets one edge of its own, so no node is isolated (Cora
    has none). Duplicates are redrawn.

    Args:
        num_nodes: nodes ``N`` (Cora: 2,708). At least ``30 * num_classes``.
        num_classes: classes (Cora: 7). Seven classes get Cora's class shares (0.13, 0.08,
            0.15, 0.30, 0.16, 0.11, 0.07); any other number gets seeded, mildly unequal shares
            (Dirichlet, concentration 10). Every class has at least 20 nodes.
        num_features: feature width ``F`` (Cora: 1,433 words). For big graphs use a few dozen.
        homophily: share of edges joining two nodes of the same class, in [0, 1] (Cora: 0.81).
        mean_degree: mean number of neighbours, ``2 E / N`` (Cora: 3.9).
        degree_exponent: exponent ``gamma > 2`` of the propensity power law
            ``p(theta) ~ theta ** -gamma``; smaller is heavier-tailed.
        words_per_node: ``"bow"``: mean words a node draws (Cora: 18); at least 1.
        topic_concentration: ``"bow"``: Dirichlet concentration of each class's word
            distribution; smaller puts a class's words on fewer, more telling, words.
        feature_signal: share of a node's features that comes from its class, in [0, 1].
            ``"bow"``: the share of its words drawn from its class's topic, the rest from a
            background (Zipf) distribution shared by all classes. ``"gaussian"``: along the line
            between two class means, the share of the feature variance that is the class mean,
            the rest Gaussian noise, whatever ``num_features``.
        features: ``"bow"``, binary bag of words (Cora-like); or ``"gaussian"``, class mean plus
            noise (cheaper, for big graphs). With the defaults, a logistic regression on the raw
            ``"bow"`` features scores about 0.56 on the Planetoid test nodes (Cora: 0.5-0.6).
        seed: seeds everything.

    Returns:
        ``x [N, F]`` float32, ``edge_index [2, 2E]`` int64, ``y [N]`` int64, and the boolean
        masks ``train_mask`` (20 nodes per class), ``val_mask`` (500) and ``test_mask`` (1,000),
        disjoint and seeded. When ``num_nodes < 20 * num_classes + 1500``, the nodes left after
        the training ones are split one third validation, two thirds test.
    """
    check_parameter("num_classes", num_classes, 2)
    check_parameter("num_nodes", num_nodes, 30 * num_classes,
               f"at least 30 * num_classes = {30 * num_classes}, for the 20 training nodes of each "
               "class plus validation and test nodes")
    check_parameter("num_features", num_features, 1)
    _check_float("homophily", homophily, lambda v: 0 <= v <= 1, "in [0, 1]")
    _check_float("feature_signal", feature_signal, lambda v: 0 <= v <= 1, "in [0, 1]")
    _check_float("mean_degree", mean_degree, lambda v: 0 < v < num_nodes - 1,
                 f"> 0 and < num_nodes - 1 = {num_nodes - 1}")
    _check_float("degree_exponent", degree_exponent, lambda v: v > 2, "> 2 (a finite mean degree)")
    _check_float("words_per_node", words_per_node, lambda v: v >= 1, "at least 1")
    _check_float("topic_concentration", topic_concentration, lambda v: v > 0, "> 0")
    if features not in ("bow", "gaussian"):
        raise SelfsupError(f"features must be 'bow' or 'gaussian'; got {features!r}.")

    rng = np.random.default_rng(seed)
    sizes = _class_sizes(num_nodes, num_classes, rng)
    y = rng.permutation(np.repeat(np.arange(num_classes, dtype=np.int64), sizes))
    propensity = (1.0 - rng.random(num_nodes)) ** (-1.0 / (degree_exponent - 1.0))
    num_edges = round(num_nodes * mean_degree / 2)
    edge_index = _dc_sbm_edges(y, propensity, num_edges, homophily, rng)
    if features == "bow":
        x = _bag_of_words(y, num_features, words_per_node, topic_concentration, feature_signal, rng)
    else:
        x = _gaussian_features(y, num_features, feature_signal, rng)
    return {"x": x, "edge_index": edge_index, "y": y, **_planetoid_masks(y, rng)}


def check_parameter(name: str, value: int, minimum: int, why: str | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        why = why or f"at least {minimum}"
        raise SelfsupError(f"{name} must be an integer, {why}; got {value!r}.")


def _check_float(name: str, value: float, ok: Callable[[float], bool], requirement: str) -> None:
    number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and ok(value)):
        raise SelfsupError(f"{name} must be a number {requirement}; got {value!r}.")


def _class_sizes(num_nodes: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    if num_classes == len(CORA_CLASS_SIZES):
        shares = np.array(CORA_CLASS_SIZES, dtype=np.float64)
        shares /= shares.sum()
    else:
        shares = rng.dirichlet(np.full(num_classes, 10.0))
    exact = shares * num_nodes
    sizes = np.floor(exact).astype(np.int64)
    sizes[np.argsort(sizes - exact)[: num_nodes - sizes.sum()]] += 1  # largest remainders
    while sizes.min() < TRAIN_PER_CLASS:  # num_nodes >= 30 * num_classes makes this end
        small, big = sizes.argmin(), sizes.argmax()
        moved = min(TRAIN_PER_CLASS - sizes[small], sizes[big] - TRAIN_PER_CLASS)
        sizes[small] += moved
        sizes[big] -= moved
    return sizes


class _PropensitySampler:
    """Draws nodes in proportion to their propensity, from the whole graph or from given classes."""

    def __init__(self, y: np.ndarray, propensity: np.ndarray, rng: np.random.Generator) -> None:
        self.rng = rng
        self.order = np.argsort(y, kind="stable")  # node ids grouped by class
        self.cumulative = np.cumsum(propensity[self.order])
        counts = np.bincount(y)
        self.end = np.cumsum(counts)  # class c holds order[end[c] - counts[c] : end[c]]
        self.begin = self.end - counts
        before = np.concatenate([[0.0], self.cumulative])
        self.mass_begin, self.mass = before[self.begin], before[self.end] - before[self.begin]

    def anywhere(self, count: int) -> np.ndarray:
        u = self.rng.random(count) * self.cumulative[-1]
        position = _searchsorted(self.cumulative, u)
        return self.order[np.minimum(position, len(self.order) - 1)]

    def within(self, classes: np.ndarray) -> np.ndarray:
        u = self.mass_begin[classes] + self.rng.random(len(classes)) * self.mass[classes]
        position = _searchsorted(self.cumulative, u)
        return self.order[np.clip(position, self.begin[classes], self.end[classes] - 1)]


def _searchsorted(cumulative: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cumulative, u, side="right")``; for many queries, sorted first: sorted
    queries walk the array in order, about 4x faster at 10M queries into 2M (cache misses)."""
    if len(u) < 100_000:
        return np.searchsorted(cumulative, u, side="right")
    order = np.argsort(u)
    position = np.empty(len(u), dtype=np.int64)
    position[order] = np.searchsorted(cumulative, u[order], side="right")
    return position


def _dc_sbm_edges(
    y: np.ndarray,
    propensity: np.ndarray,
    num_edges: int,
    homophily: float,
    rng: np.random.Generator,
) -> np.ndarray:
    n = len(y)
    sample = _PropensitySampler(y, propensity, rng)
    num_intra = round(homophily * num_edges)

    def key(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.minimum(a, b) * n + np.maximum(a, b)

    accepted = np.empty(0, dtype=np.int64)
    intra_done = inter_done = 0
    if num_edges >= n:  # mean degree >= 2
        # Every node starts one edge, so none is isolated; the same share are intra-class.
        nodes = rng.permutation(n)
        intra, inter = nodes[: round(homophily * n)], nodes[round(homophily * n):]
        partner_intra = _redraw_until(lambda i: sample.within(y[i]), lambda i, p: p != i, intra)
        partner_inter = _redraw_until(lambda i: sample.anywhere(len(i)),
                                      lambda i, p: y[p] != y[i], inter)
        accepted = np.unique(key(np.concatenate([intra, inter]),
                                 np.concatenate([partner_intra, partner_inter])))
        intra_done = int((y[accepted // n] == y[accepted % n]).sum())
        inter_done = len(accepted) - intra_done

    def draw_intra(count: int) -> np.ndarray:
        a = sample.anywhere(count)
        b = sample.within(y[a])
        return key(a, b)[a != b]

    def draw_inter(count: int) -> np.ndarray:
        a, b = sample.anywhere(count), sample.anywhere(count)
        return key(a, b)[y[a] != y[b]]

    accepted = _add_unique(accepted, draw_intra, num_intra - intra_done)
    accepted = _add_unique(accepted, draw_inter, num_edges - num_intra - inter_done)
    source, target = accepted // n, accepted % n
    directed = np.sort(np.concatenate([source * n + target, target * n + source]))
    return np.stack([directed // n, directed % n])


def _redraw_until(
    draw: Callable[[np.ndarray], np.ndarray],
    ok: Callable[[np.ndarray, np.ndarray], np.ndarray],
    nodes: np.ndarray,
) -> np.ndarray:
    """One partner per node from ``draw``, redrawn for the nodes where ``ok`` fails."""
    partner = draw(nodes)
    bad = np.flatnonzero(~ok(nodes, partner))
    while len(bad):
        partner[bad] = draw(nodes[bad])
        bad = bad[~ok(nodes[bad], partner[bad])]
    return partner


def _add_unique(accepted: np.ndarray, draw: Callable[[int], np.ndarray], count: int) -> np.ndarray:
    """``accepted`` (sorted edge keys) plus ``count`` new distinct keys from ``draw``."""
    added = np.empty(0, dtype=np.int64)  # sorted
    for _ in range(_MAX_ROUNDS):
        need = count - len(added)
        if need <= 0:
            break
        keys, first = np.unique(draw(int(need * 1.25) + 16), return_index=True)
        new = ~(_contains(accepted, keys) | _contains(added, keys))
        # Keep the first `need` in draw order: np.unique sorted them, and the smallest ids
        # must not be favoured.
        keys = keys[new][np.argsort(first[new])][:need]
        added = np.sort(np.concatenate([added, keys]), kind="stable")
    else:
        raise SelfsupError(
            f"Could not place {count} distinct edges: mean_degree is too high for num_nodes at "
            "this homophily and degree_exponent. Lower mean_degree or raise degree_exponent.")
    return np.sort(np.concatenate([accepted, added]), kind="stable")  # merges two sorted runs


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    position = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[position] == keys


def _bag_of_words(
    y: np.ndarray, num_words: int, words_per_node: float, concentration: float, signal: float,
    rng: np.random.Generator,
) -> np.ndarray:
    n, num_classes = len(y), int(y.max()) + 1
    topics = rng.dirichlet(np.full(num_words, concentration), size=num_classes)
    background = 1.0 / (10.0 + rng.permutation(num_words))  # Zipf-like, over a shuffled vocabulary
    background /= background.sum()
    counts = 1 + rng.poisson(words_per_node - 1.0, n)
    from_topic = rng.binomial(counts, signal)
    node = np.repeat(np.arange(n), counts)
    rank = np.arange(len(node)) - np.repeat(np.cumsum(counts) - counts, counts)
    topical = rank < from_topic[node]
    words = np.empty(len(node), dtype=np.int64)
    # Row c of the flattened cumulative topics spans (c, c + 1], so c + u picks from topic c.
    topic_classes = y[node[topical]]
    flat = _searchsorted(np.cumsum(topics.ravel()), topic_classes + rng.random(len(topic_classes)))
    words[topical] = np.clip(flat - topic_classes * num_words, 0, num_words - 1)
    cumulative = np.cumsum(background)
    drawn = _searchsorted(cumulative, rng.random(int((~topical).sum())) * cumulative[-1])
    words[~topical] = np.minimum(drawn, num_words - 1)
    x = np.zeros((n, num_words), dtype=np.float32)
    x[node, words] = 1.0
    return x


def _gaussian_features(
    y: np.ndarray, num_features: int, signal: float, rng: np.random.Generator
) -> np.ndarray:
    num_classes = int(y.max()) + 1
    # Means with variance 2 / F lie about 2 apart whatever F: along the line between two of them
    # the class part has variance `signal` and the noise `1 - signal`.
    means = rng.standard_normal((num_classes, num_features)) * math.sqrt(2.0 / num_features)
    x = rng.standard_normal((len(y), num_features), dtype=np.float32)
    x *= np.float32(math.sqrt(1.0 - signal))
    x += (means * math.sqrt(signal)).astype(np.float32)[y]
    return x


def _planetoid_masks(y: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(y)
    shuffled = rng.permutation(n)
    by_class = shuffled[np.argsort(y[shuffled], kind="stable")]
    counts = np.bincount(y)
    rank = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    train = np.zeros(n, dtype=bool)
    train[by_class[rank < TRAIN_PER_CLASS]] = True
    rest = shuffled[~train[shuffled]]
    if len(rest) >= NUM_VAL + NUM_TEST:
        num_val, num_test = NUM_VAL, NUM_TEST
    else:  # a small graph: a third of the rest for validation, the other two thirds for test
        num_val = round(len(rest) * NUM_VAL / (NUM_VAL + NUM_TEST))
        num_test = len(rest) - num_val
    val, test = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    val[rest[:num_val]] = True
    test[rest[num_val:num_val + num_test]] = True
    return {"train_mask": train, "val_mask": val, "test_mask": test}

"""The offline graph generators: the Cora stand-in (degree-corrected SBM, Planetoid split) and
the planted-motif graph classification set."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.generators import sbm_citation
from selfsup.modalities.graph.data.motifs import synthetic_motifs


@pytest.fixture(scope="module")
def cora_like() -> dict[str, np.ndarray]:
    return sbm_citation()


def assert_simple_undirected(edge_index: np.ndarray, num_nodes: int) -> None:
    source, target = edge_index
    assert edge_index.dtype == np.int64 and edge_index.shape[0] == 2
    assert source.min() >= 0 and max(source.max(), target.max()) < num_nodes
    assert not (source == target).any(), "self loops"
    keys = source * num_nodes + target
    assert len(np.unique(keys)) == len(keys), "duplicate edges"
    assert np.array_equal(np.sort(keys), np.sort(target * num_nodes + source)), "not symmetric"


def edge_homophily(g: dict[str, np.ndarray]) -> float:
    y, (source, target) = g["y"], g["edge_index"]
    return float((y[source] == y[target]).mean())


def test_sbm_citation_has_cora_shapes_and_dtypes(cora_like):
    g = cora_like
    assert g["x"].shape == (2708, 1433) and g["x"].dtype == np.float32
    assert set(np.unique(g["x"])) == {0.0, 1.0}
    assert g["y"].shape == (2708,) and g["y"].dtype == np.int64
    assert set(np.unique(g["y"])) == set(range(7))
    for mask in ("train_mask", "val_mask", "test_mask"):
        assert g[mask].shape == (2708,) and g[mask].dtype == bool
    assert 12 <= g["x"].sum(1).mean() <= 18  # ~18 words drawn, some repeat


def test_sbm_citation_is_seeded(cora_like):
    again, other = sbm_citation(seed=0), sbm_citation(seed=1)
    for key, value in cora_like.items():
        assert np.array_equal(value, again[key]), key
    assert not np.array_equal(cora_like["y"], other["y"])
    assert not np.array_equal(cora_like["x"], other["x"])


def test_sbm_citation_edges_are_undirected_without_loops_or_duplicates(cora_like):
    assert_simple_undirected(cora_like["edge_index"], 2708)


def test_sbm_citation_matches_requested_homophily_and_mean_degree(cora_like):
    assert edge_homophily(cora_like) == pytest.approx(0.81, abs=0.03)
    assert cora_like["edge_index"].shape[1] / 2708 == pytest.approx(3.9, rel=0.05)


def test_sbm_citation_low_homophily_is_met():
    g = sbm_citation(homophily=0.2, seed=3)
    assert edge_homophily(g) == pytest.approx(0.2, abs=0.03)


def test_sbm_citation_degrees_are_heavy_tailed_without_isolated_nodes(cora_like):
    degree = np.bincount(cora_like["edge_index"][0], minlength=2708)
    assert degree.min() >= 1  # Cora has no isolated node
    assert np.median(degree) <= 4 and degree.max() >= 50  # Cora: median 3, max 168


def test_sbm_citation_class_sizes_follow_cora(cora_like):
    assert np.bincount(cora_like["y"]).tolist() == [351, 217, 418, 818, 426, 298, 180]


def test_sbm_citation_dense_graph_has_exact_edge_count():
    g = sbm_citation(num_nodes=200, num_classes=2, num_features=16, mean_degree=40.0, seed=2)
    assert_simple_undirected(g["edge_index"], 200)
    assert g["edge_index"].shape[1] == 200 * 40
    assert edge_homophily(g) == pytest.approx(0.81, abs=0.01)


def test_sbm_citation_planetoid_split_is_disjoint_with_20_per_class(cora_like):
    train, val, test = cora_like["train_mask"], cora_like["val_mask"], cora_like["test_mask"]
    assert np.bincount(cora_like["y"][train]).tolist() == [20] * 7
    assert (val.sum(), test.sum()) == (500, 1000)
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()


def test_sbm_citation_small_graph_scales_validation_and_test_down():
    g = sbm_citation(num_nodes=500, num_features=32, seed=1)
    rest = 500 - 140
    assert g["train_mask"].sum() == 140
    assert (g["val_mask"].sum(), g["test_mask"].sum()) == (rest // 3, rest - rest // 3)
    assert not (g["train_mask"] & (g["val_mask"] | g["test_mask"])).any()


def test_sbm_citation_other_class_counts_keep_20_training_nodes_each():
    g = sbm_citation(num_nodes=400, num_classes=12, num_features=16, seed=5)
    assert np.bincount(g["y"][g["train_mask"]]).tolist() == [20] * 12


def test_sbm_citation_raw_features_are_informative_but_not_separable(cora_like):
    g = cora_like
    train, test = g["train_mask"], g["test_mask"]
    probe = LogisticRegression(max_iter=500).fit(g["x"][train], g["y"][train])
    accuracy = probe.score(g["x"][test], g["y"][test])
    assert 0.4 < accuracy < 0.95  # seed 0: 0.56 (Cora, raw features, Planetoid split: ~0.5-0.6)


def test_sbm_citation_gaussian_features_are_class_means_plus_noise():
    g = sbm_citation(num_nodes=3000, num_features=32, features="gaussian", seed=4)
    x, y = g["x"], g["y"]
    assert x.shape == (3000, 32) and x.dtype == np.float32
    means = np.stack([x[y == c].mean(0) for c in range(7)])
    spread = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(7, 1)]
    assert spread.mean() == pytest.approx(2 * np.sqrt(0.25), rel=0.25)  # feature_signal 0.25


@pytest.mark.parametrize(
    "options, name",
    [
        ({"homophily": 1.2}, "homophily"),
        ({"homophily": -0.1}, "homophily"),
        ({"mean_degree": 0}, "mean_degree"),
        ({"mean_degree": 5000.0}, "mean_degree"),
        ({"mean_degree": "3.9"}, "mean_degree"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_nodes": 100}, "num_nodes"),
        ({"num_features": 0}, "num_features"),
        ({"degree_exponent": 2.0}, "degree_exponent"),
        ({"words_per_node": 0.5}, "words_per_node"),
        ({"topic_concentration": 0.0}, "topic_concentration"),
        ({"feature_signal": 1.5}, "feature_signal"),
        ({"features": "dense"}, "features"),
    ],
)
def test_sbm_citation_rejects_bad_parameters_naming_them(options, name):
    with pytest.raises(SelfsupError, match=name):
        sbm_citation(**options)


def test_sbm_citation_too_dense_for_its_classes_raises():
    with pytest.raises(SelfsupError, match="mean_degree"):
        sbm_citation(num_nodes=60, num_classes=2, num_features=4, homophily=1.0, mean_degree=50.0)


@pytest.fixture(scope="module")
def motifs() -> dict:
    return synthetic_motifs()


def test_synthetic_motifs_shapes_and_dtypes(motifs):
    g = motifs
    n = len(g["graph_index"])
    assert g["x"].shape == (n, 8) and g["x"].dtype == np.float32
    assert g["graph_index"].dtype == np.int64 and g["y"].dtype == np.int64
    assert g["y"].shape == (1200,)
    assert g["class_names"] == ["house", "cycle", "clique", "grid"]
    assert_simple_undirected(g["edge_index"], n)


def test_synthetic_motifs_is_seeded(motifs):
    again, other = synthetic_motifs(seed=0), synthetic_motifs(seed=1)
    for key in ("x", "edge_index", "graph_index", "y"):
        assert np.array_equal(motifs[key], again[key]), key
    assert not np.array_equal(motifs["y"], other["y"])


def test_synthetic_motifs_graphs_are_contiguous_and_sized(motifs):
    graph_index = motifs["graph_index"]
    assert np.all(np.diff(graph_index) >= 0)  # sorted, so each graph's nodes are contiguous
    sizes = np.bincount(graph_index)
    assert len(sizes) == 1200 and sizes.min() >= 12 and sizes.max() <= 30
    source, target = motifs["edge_index"]
    assert np.array_equal(graph_index[source], graph_index[target])  # no edge between graphs


def test_synthetic_motifs_classes_are_balanced(motifs):
    assert np.bincount(motifs["y"]).tolist() == [300] * 4


def test_synthetic_motifs_features_are_one_hot_degree(motifs):
    x = motifs["x"]
    degree = np.bincount(motifs["edge_index"][0], minlength=len(x))
    assert degree.min() >= 1  # every graph is connected
    assert np.array_equal(x.sum(1), np.ones(len(x)))
    assert np.array_equal(x.argmax(1), np.minimum(degree, 8) - 1)


def test_synthetic_motifs_graph_size_does_not_give_the_label_away(motifs):
    sizes = np.bincount(motifs["graph_index"])
    mean_size = [sizes[motifs["y"] == c].mean() for c in range(4)]
    assert max(mean_size) - min(mean_size) < 1.5  # sizes are uniform in [12, 30] for every label


def test_synthetic_motifs_subset_of_motifs():
    g = synthetic_motifs(num_graphs=30, motifs=("clique", "house"), seed=2)
    assert g["class_names"] == ["clique", "house"]
    assert np.bincount(g["y"]).tolist() == [15, 15]


@pytest.mark.parametrize(
    "options, name",
    [
        ({"num_graphs": 3}, "num_graphs"),
        ({"min_nodes": 8}, "min_nodes"),
        ({"min_nodes": 20, "max_nodes": 15}, "max_nodes"),
        ({"num_features": 1}, "num_features"),
        ({"motifs": ("house", "star")}, "motifs"),
        ({"motifs": ()}, "motifs"),
    ],
)
def test_synthetic_motifs_rejects_bad_parameters_naming_them(options, name):
    with pytest.raises(SelfsupError, match=name):
        synthetic_motifs(**options)

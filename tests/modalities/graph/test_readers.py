"""Graph file readers: .npz (plain and Shchur CSR), edge-list CSV (+ node CSV), TU folders and
GraphML/GML become plain arrays, and each kind of bad input is one SelfsupError naming the file
and, where there is one, the line."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modalities.graph.data.files import read_graph
from selfsup.modalities.graph.data.readers import (
    GraphArrays,
    check_graph,
    read_edge_csv,
    read_graph_file,
    read_tu,
)

# A 4-node path 0-1-2-3 plus a chord 0-2, both directions, sorted by (source, target).
UNDIRECTED = np.array([[0, 0, 1, 1, 2, 2, 2, 3], [1, 2, 0, 2, 0, 1, 3, 2]])


def write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip("\n"))
    return path


def edge_set(edge_index: np.ndarray) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.T.tolist()))


def raises(match: str, fn, *args, **kwargs) -> str:
    with pytest.raises(SelfsupError, match=match) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ----------------------------------------------------------------------------- .npz


def test_npz_round_trip_with_text_labels_and_masks(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(4, 3)
    masks = {"train_mask": np.array([1, 1, 0, 0], bool), "test_mask": np.array([0, 0, 1, 1], bool)}
    path = tmp_path / "toy.npz"
    np.savez(path, x=x, edge_index=UNDIRECTED[:, ::-1], y=np.array(["b", "a", "b", "c"]), **masks)
    g = read_graph_file(path)
    assert isinstance(g, GraphArrays) and g.name == "toy" and g.num_nodes == 4
    assert g.x.dtype == np.float32 and np.array_equal(g.x, x)
    assert g.edge_index.dtype == np.int64 and np.array_equal(g.edge_index, UNDIRECTED)
    assert g.y.tolist() == [1, 0, 1, 2] and g.class_names == ["a", "b", "c"]
    assert g.train_mask.tolist() == [True, True, False, False] and g.val_mask is None
    assert g.graph_index is None and not g.graph_level and g.notes == []


def test_npz_pairs_directed_duplicates_self_loops_and_isolated_nodes_are_noted(tmp_path):
    pairs = np.array([[0, 1], [1, 2], [1, 2], [2, 3], [3, 3], [0, 2], [2, 0]], dtype=np.float64)
    path = tmp_path / "pairs.npz"
    np.savez(path, x=np.ones((5, 2)), edge_index=pairs, y=np.array([3.0, 1, 1, 3, 3]))
    g = read_graph_file(path)
    assert edge_set(g.edge_index) == edge_set(UNDIRECTED)
    notes = " | ".join(g.notes)
    for said in ("[E, 2]", "1 self-loop", "1 duplicate", "Added 3 reverse edge", "1 isolated"):
        assert said in notes
    assert g.y.tolist() == [1, 0, 0, 1, 1] and g.class_names == ["1", "3"]


def test_npz_many_graphs_with_graph_labels(tmp_path):
    path = tmp_path / "batch.npz"
    edges = np.array([[0, 1, 2, 3], [1, 0, 3, 2]])  # graph 0: nodes 0-1, graph 1: nodes 2-4
    np.savez(path, edge_index=edges, batch=np.array([0, 0, 1, 1, 1]), y=np.array([7, 5]))
    g = read_graph_file(path)
    assert g.graph_level and g.num_graphs == 2 and g.x is None and g.num_nodes == 5
    assert g.graph_index.tolist() == [0, 0, 1, 1, 1] and g.y.tolist() == [1, 0]


def test_npz_one_hot_labels_and_num_nodes_key(tmp_path):
    path = tmp_path / "onehot.npz"
    np.savez(path, edge_index=UNDIRECTED, num_nodes=6, y=np.eye(3)[[2, 0, 1, 1, 0, 2]],
             edge_attr=np.ones(8))
    g = read_graph_file(path)
    assert g.num_nodes == 6 and g.x is None and g.y.tolist() == [2, 0, 1, 1, 0, 2]
    notes = " | ".join(g.notes)
    assert "one-hot" in notes and "ignored keys edge_attr" in notes and "2 isolated" in notes
    raises("Option target", read_graph_file, path, target="y")


def test_shchur_csr_npz(tmp_path):
    # adjacency of the 4-node graph, one direction only (upper triangle), as CSR
    adj = {"adj_indptr": [0, 2, 3, 4, 4], "adj_indices": [1, 2, 2, 3], "adj_data": [1.0] * 4,
           "adj_shape": [4, 4]}
    attr = {"attr_indptr": [0, 1, 2, 2, 3], "attr_indices": [0, 2, 1], "attr_data": [5.0, 6, 7],
            "attr_shape": [4, 3]}
    path = tmp_path / "cora_like.npz"
    np.savez(path, **{k: np.asarray(v) for k, v in {**adj, **attr}.items()}, labels=[0, 1, 1, 2])
    g = read_graph_file(path)
    assert edge_set(g.edge_index) == edge_set(UNDIRECTED) and "reverse" in g.notes[0]
    dense = np.zeros((4, 3), np.float32)
    dense[0, 0], dense[1, 2], dense[3, 1] = 5, 6, 7
    assert np.array_equal(g.x, dense) and g.y.tolist() == [0, 1, 1, 2]
    np.savez(path, **{k: np.asarray(v) for k, v in adj.items()}, attr_matrix=dense)
    assert np.array_equal(read_graph_file(path).x, dense)


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"x": np.ones((3, 1)), "edge_index": np.array([[0, 1], [1, 3]])},
         r"edge 1 \(column 1 of edge_index\) joins nodes 1 and 3.*0\.\.2"),
        ({"x": np.ones((3, 1)), "edge_index": np.array([[0, 1.5], [1, 0]])}, "non-integer"),
        ({"x": np.array([[0.0], [np.nan], [1]]), "edge_index": np.array([[0], [1]])},
         "node 1 has a NaN"),
        ({"x": np.ones((3, 1)), "edge_index": np.array([[0], [1]]), "y": np.array([0, 1])},
         "2 labels but there are 3 nodes"),
        ({"x": np.ones((3, 1)), "edge_index": np.array([[0], [1]]),
          "train_mask": np.array([1, 1, 0], bool), "test_mask": np.array([0, 1, 1], bool)},
         r"train_mask and test_mask overlap \(1 nodes in both, first node 1\)"),
        ({"x": np.ones((3, 1)), "edge_index": np.zeros((2, 0), np.int64)}, "no edges"),
        ({"edge_index": np.array([[0, 1], [1, 2]]), "graph_index": np.array([0, 0, 1])},
         "joins node 1 of graph 0 to node 2 of graph 1"),
        ({"edge_index": np.array([[0], [1]]), "graph_index": np.array([0, 0, 2])},
         "graph_index goes from 0 to 2"),
        ({"x": np.ones((2, 1))}, "no key 'edge_index'"),
    ],
)
def test_bad_npz_is_one_error_naming_the_file(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    assert str(path) in raises(match, read_graph_file, path)


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.ones((2, 1)), edge_index=np.array([[0], [1]]),
             y=np.array([{"a": 1}, None], dtype=object))
    assert str(path) in raises("Python objects", read_graph_file, path)


# ----------------------------------------------------------------------------- CSV


def test_edge_csv_with_node_csv(tmp_path):
    edges = write(tmp_path / "edges.csv", """
src,dst,weight
paper_a,paper_b,0.5
paper_b,paper_c,1
paper_c,paper_a,2
""")
    nodes = write(tmp_path / "nodes.csv", """
id,f0,title,f1,y
paper_c,3,gamma,30,bio
paper_a,1,alpha,10,cs
paper_b,2,beta,20,cs
paper_d,4,delta,40,bio
""")
    g = read_edge_csv(edges, nodes)
    assert g.node_ids.tolist() == ["paper_c", "paper_a", "paper_b", "paper_d"]
    assert np.array_equal(g.x, [[3, 30], [1, 10], [2, 20], [4, 40]])
    assert g.y.tolist() == [0, 1, 1, 0] and g.class_names == ["bio", "cs"]
    assert edge_set(g.edge_index) == {(1, 2), (2, 1), (2, 0), (0, 2), (0, 1), (1, 0)}
    notes = " | ".join(g.notes)
    assert "weight" in notes and "title" in notes and "1 isolated" in notes
    assert "Added 3 reverse" in notes
    # the folder form picks nodes.csv up by itself, and target picks another label column
    g = read_graph_file(tmp_path, target="f1")
    assert g.name == tmp_path.name and g.class_names == ["10", "20", "30", "40"]
    assert g.x.shape == (4, 1)


def test_edge_csv_without_header_remaps_integer_ids_numerically(tmp_path):
    path = write(tmp_path / "e.csv", "10,2\n2,10\n2,3\n3,2\n")
    g = read_graph_file(path)
    assert g.node_ids.tolist() == ["2", "3", "10"] and g.x is None and g.y is None
    assert edge_set(g.edge_index) == {(0, 2), (2, 0), (0, 1), (1, 0)}
    assert any("remapped" in n for n in g.notes)


@pytest.mark.parametrize(
    "edges, nodes, match",
    [
        ("source,target\na,b\nb,zz\n", "id,f\na,1\nb,2\n", r"edges.csv, line 3: node id 'zz'"),
        ("source,target\na,b\nc\n", None, r"edges.csv, line 3: 1 field"),
        ("a,b\n", "id,f\na,1\nb,x\n", r"nodes.csv, line 3, column 'f': 'x' is not a number"),
        ("a,b\n", "id,f\na,1\na,2\n", r"nodes.csv: node id 'a' appears twice \(lines 2 and 3\)"),
        ("a,b\n", "id,f\na,1\nb,inf\n", r"nodes.csv, line 3, column 'f'.*not a finite"),
        ("a,b\n", "id,f\na,1\nb\n", r"nodes.csv is ragged: line 3"),
    ],
)
def test_bad_csv_names_file_and_line(tmp_path, edges, nodes, match):
    edge_path = write(tmp_path / "edges.csv", edges)
    node_path = write(tmp_path / "nodes.csv", nodes) if nodes is not None else None
    raises(match, read_edge_csv, edge_path, node_path)


def test_csv_unknown_target_lists_columns(tmp_path):
    edges, nodes = write(tmp_path / "e.csv", "a,b\n"), write(tmp_path / "n.csv", "id,f\na,1\nb,2\n")
    raises(r"no column 'cls'.*id, f", read_edge_csv, edges, nodes, "cls")


# ----------------------------------------------------------------------------- TU


def write_tu(folder: Path, **files: str) -> Path:
    folder.mkdir()
    base = {
        "A": "1, 2\n2, 1\n2, 3\n3, 2\n4, 5\n5, 4\n",
        "graph_indicator": "1\n1\n1\n2\n2\n",
        "graph_labels": "-1\n1\n",
    }
    for part, text in {**base, **files}.items():
        if text is not None:
            write(folder / f"TOY_{part}.txt", text)
    return folder


def test_tu_folder_with_attributes_and_node_labels(tmp_path):
    folder = write_tu(
        tmp_path / "TOY", node_labels="0\n2\n0\n2\n5\n",
        node_attributes="0.5, 1\n1.5, 2\n2.5, 3\n3.5, 4\n4.5, 5\n",
    )
    g = read_graph_file(folder)
    assert g.name == "TOY" and g.num_graphs == 2 and g.graph_index.tolist() == [0, 0, 0, 1, 1]
    assert g.y.tolist() == [0, 1] and g.class_names == ["-1", "1"]
    onehot = np.eye(3)[[0, 1, 0, 1, 2]]
    attributes = np.array([[0.5, 1], [1.5, 2], [2.5, 3], [3.5, 4], [4.5, 5]])
    assert np.allclose(g.x, np.concatenate([attributes, onehot], axis=1))
    assert edge_set(g.edge_index) == {(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3)}
    assert not any("reverse" in n or "duplicate" in n for n in g.notes)
    # a path to the DS_A.txt file reads the same folder
    assert read_graph_file(folder / "TOY_A.txt").num_nodes == 5


def test_tu_without_node_features_has_no_x(tmp_path):
    g = read_tu(write_tu(tmp_path / "TOY"))
    assert g.x is None and g.num_nodes == 5 and g.y.tolist() == [0, 1]


@pytest.mark.parametrize(
    "files, match",
    [
        ({"node_labels": "0\n1\n0\n"},
         r"TOY_node_labels.txt has 3 lines but .*TOY_graph_indicator.txt gives 5 nodes"),
        ({"A": "1, 2\n\n2, 9\n"}, r"TOY_A.txt, line 3: edge 2, 9 names a node outside 1..5"),
        ({"A": "1, 2\n2, x\n"}, r"TOY_A.txt, line 2: 'x' is not an integer"),
        ({"A": "1, 2\n2, 3, 4\n"}, r"TOY_A.txt, line 2: 3 value\(s\)"),
        ({"graph_indicator": "1\n1\n1\n3\n3\n"},
         r"TOY_graph_indicator.txt, line 4: graph id 3 after 1.*contiguous"),
        ({"graph_labels": "1\n"}, r"TOY_graph_labels.txt has 1 lines but .* gives 2 graphs"),
        ({"A": "1, 2\n3, 4\n"}, r"TOY_A.txt line 2 joins node 2 of graph 0 to node 3 of graph 1"),
        ({"node_attributes": "1\n2\nnan\n4\n5\n"}, r"TOY_node_attributes.txt, line 3: NaN"),
    ],
)
def test_bad_tu_folder_names_file_and_line(tmp_path, files, match):
    raises(match, read_tu, write_tu(tmp_path / "TOY", **files))


# ----------------------------------------------------------------------------- GraphML / GML


@pytest.mark.parametrize("suffix", [".graphml", ".gml"])
def test_graphml_and_gml_round_trip(tmp_path, suffix):
    graph = nx.DiGraph()
    for name, (w, h, cls) in {"a": (1.0, 2, "u"), "b": (3.0, 4, "v"), "c": (5.0, 6, "u")}.items():
        graph.add_node(name, weight=w, height=h, y=cls, colour="red")
    graph.add_edges_from([("a", "b"), ("b", "c"), ("c", "c")], capacity=2)
    path = tmp_path / f"g{suffix}"
    (nx.write_graphml if suffix == ".graphml" else nx.write_gml)(graph, path)
    g = read_graph_file(path)
    assert np.array_equal(g.x, [[2, 1], [4, 3], [6, 5]])  # height, weight: sorted names
    assert g.y.tolist() == [0, 1, 0] and g.class_names == ["u", "v"]
    assert g.node_ids.tolist() == ["a", "b", "c"]  # GML: the node-name "label" attribute
    assert edge_set(g.edge_index) == {(0, 1), (1, 0), (1, 2), (2, 1)}
    notes = " | ".join(g.notes)
    for said in ("height, weight", "colour", "capacity", "1 self-loop", "Added 2 reverse"):
        assert said in notes


def test_graphml_missing_numeric_attribute_names_the_node(tmp_path):
    graph = nx.Graph()
    graph.add_node("a", w=1.0)
    graph.add_node("b")
    graph.add_edge("a", "b")
    path = tmp_path / "g.graphml"
    nx.write_graphml(graph, path)
    raises(r"g.graphml: node 'b' lacks a number for the attribute 'w'", read_graph_file, path)


# ----------------------------------------------------------------------------- dispatch, check


def test_unknown_suffix_and_missing_file(tmp_path):
    raises("reads .npz", read_graph_file, write(tmp_path / "g.json", "{}"))
    raises("does not exist", read_graph_file, tmp_path / "nope.npz")


def test_check_graph_names_the_line_it_is_given():
    g = GraphArrays(None, np.array([[0, 1], [1, 5]]), num_nodes=3)
    raises("my.txt: line 12 joins nodes 1 and 5", check_graph, g, "my.txt", lambda k: f"line {k + 11}")


def test_a_planetoid_graph_saved_from_pyg_as_the_readme_says_loads_with_its_split(tmp_path):
    from torch_geometric.data import Data

    from selfsup.modalities.graph.data.generators import sbm_citation

    g = sbm_citation(seed=1, num_nodes=300, num_classes=3, num_features=50)
    d = Data(**{k: torch.as_tensor(v) for k, v in g.items()})  # bool masks, int64 edges, as Planetoid's
    path = tmp_path / "cora.npz"
    np.savez(path, **{k: d[k].numpy() for k in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask")})
    source = read_graph(path)
    assert source.protocol.kind == "fixed_split"
    train_nodes = source.train.ids.numpy()
    np.testing.assert_array_equal(train_nodes[source.protocol.train], np.flatnonzero(g["train_mask"]))
    np.testing.assert_array_equal(source.test.ids.numpy(), np.flatnonzero(g["test_mask"]))

"""Built-in graph data sets, all made offline: Zachary's karate club (networkx), ``sbm_citation``
(a generated stand-in for Cora) and ``synthetic_motifs`` (graph classification).

Like the other built-ins, ``seed`` (the run's) does not change the data; ``data_seed`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from selfsup.data import DataSource
from selfsup.modalities.graph.data.source import graph_source, node_source
from selfsup.registry import DATASETS


@DATASETS.register("karate", modality="graph", n=34,
                   description="Zachary's karate club (networkx): 34 members, 78 ties, the 2 clubs it split into")
def karate(seed: int = 0, test_fraction: float = 0.3) -> DataSource:
    """Zachary (1977): 34 nodes, 78 undirected edges, label = the club each member joined.
    Features: one-hot node identity (the graph has none), as the GCN paper does for it."""
    import networkx as nx

    graph = nx.karate_club_graph()
    edges = np.array(graph.edges(), dtype=np.int64).T
    edge_index = np.concatenate([edges, edges[::-1]], axis=1)
    clubs = sorted({graph.nodes[i]["club"] for i in graph.nodes})
    y = np.array([clubs.index(graph.nodes[i]["club"]) for i in graph.nodes], dtype=np.int64)
    return node_source("karate", np.eye(graph.number_of_nodes(), dtype=np.float32), edge_index, y,
                       class_names=clubs, seed=seed, test_fraction=test_fraction)


@DATASETS.register("sbm_citation", modality="graph", n=2708,
                   description="generated stand-in for Cora: 2,708 nodes, 7 classes, bag-of-words features, "
                   "edge homophily 0.81, mean degree 3.9, Planetoid split (test: 1,000 nodes)")
def sbm_citation(seed: int = 0, test_fraction: float = 0.2, data_seed: int = 0, neighbors: list[int] | None = None,
                 **generator: Any) -> DataSource:
    """The degree-corrected SBM citation graph of :func:`generators.sbm_citation` (its keywords
    are ``data.options``: ``homophily``, ``mean_degree``, ``num_nodes`` …); held out: its
    Planetoid test nodes. ``neighbors`` (e.g. ``[10, 10]``): sampled-neighbourhood mini-batches
    (:func:`~selfsup.modalities.graph.data.source.node_source`)."""
    from selfsup.modalities.graph.data.generators import sbm_citation as generate

    g = generate(seed=data_seed, **generator)
    names = [f"topic {c}" for c in range(int(g["y"].max()) + 1)]
    return node_source("sbm_citation", g.pop("x"), g.pop("edge_index"), g["y"], test_mask=g["test_mask"],
                       class_names=names, seed=seed, test_fraction=test_fraction, neighbors=neighbors,
                       train_mask=g["train_mask"], val_mask=g["val_mask"])


@DATASETS.register("synthetic_motifs", modality="graph", n=1200,
                   description="graph classification: 1,200 random graphs (4 families), label = the motif "
                   "planted in each")
def synthetic_motifs(seed: int = 0, test_fraction: float = 0.2, data_seed: int = 0, **generator: Any) -> DataSource:
    """The graphs of :func:`motifs.synthetic_motifs`; a seeded stratified split."""
    from selfsup.modalities.graph.data.motifs import synthetic_motifs as generate

    g = generate(seed=data_seed, **generator)
    return graph_source("synthetic_motifs", g["x"], g["edge_index"], g["graph_index"], g["y"],
                        class_names=list(g["class_names"]), seed=seed, test_fraction=test_fraction)

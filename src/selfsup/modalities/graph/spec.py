"""The graph modality's spec: defaults and capabilities."""

from __future__ import annotations

from selfsup.modalities.graph.data.files import read_graph
from selfsup.modalities.graph.data.graphs import GraphSpec
from selfsup.modality import ModalitySpec, register_modality

SPEC = register_modality(
    ModalitySpec(
        name="graph",
        description="one graph (node level) or many (graph level): .npz, edge-list CSV, TU folder, GraphML/GML",
        read=read_graph,
        default_encoder="gcn",
        default_views="graph_augment",
        input_spec_from_dict=GraphSpec.from_dict,
        extra="graph",
    )
)

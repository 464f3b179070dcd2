"""Every method of the catalogue trains on graph views unchanged (node level: a batch of nodes
of one graph, views that drop edges and mask features), through the ordinary contracts.

The token methods (MAE, JEPA) need an encoder with patch tokens, which the graph modality does
not have yet, and Mixed Barlow Twins interpolates input tensors, which a graph batch is not: they
are checked to be refused with one clear error instead.
"""

from __future__ import annotations

import pytest
import torch
from test_catalogue import SMALL_BATCH, _builtin

from _catalogue_steps import MIXES_INPUTS, refuses_without_tokens, trains_a_few_steps
from selfsup.modality import get_modality
from selfsup.registry import ENCODERS, METHODS, VIEWS

get_modality("graph")  # registers the graph encoders and views
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec

SPEC = GraphSpec(16, "node")


def _generic_methods() -> list[str]:
    return [n for n in METHODS.names() if _builtin(n) and not METHODS.entry(n).info.modality]


def _batch(size: int = 32) -> dict:
    generator = torch.Generator().manual_seed(0)
    n = 120
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    chords = torch.randint(0, n, (2, 200), generator=generator)
    edges = torch.cat([ring, chords, ring.flip(0), chords.flip(0)], dim=1)
    x = torch.randn(n, SPEC.num_features, generator=generator)
    return {"x": Graphs(x, edges, nodes=torch.arange(size)), "index": torch.arange(size), "y": torch.arange(size) % 4}


@pytest.mark.parametrize("name", _generic_methods())
def test_catalogue_method_trains_on_graph_views(name):
    torch.manual_seed(0)
    encoder = ENCODERS.build("gcn", SPEC, hidden_dim=16, output_dim=16)
    views = VIEWS.build("graph_augment", SPEC)
    if refuses_without_tokens(name, encoder, SPEC, SMALL_BATCH.get(name, {})):
        return
    method = METHODS.build(name, encoder, views, **SMALL_BATCH.get(name, {}))
    losses = trains_a_few_steps(name, method, _batch(), steps=4)
    assert len(losses) == (4 if name not in MIXES_INPUTS else 0), name

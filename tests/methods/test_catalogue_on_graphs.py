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

from selfsup.errors import SelfsupError
from selfsup.modality import get_modality
from selfsup.registry import ENCODERS, METHODS, VIEWS

get_modality("graph")  # registers the graph encoders and views
from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec

SPEC = GraphSpec(16, "node")
MIXES_INPUTS = {"mixed_barlow_twins"}


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
    if "tokens" in METHODS.info(name).needs:
        with pytest.raises(SelfsupError, match="needs a token encoder"):
            METHODS.build(name, encoder, VIEWS.build("none", SPEC), **SMALL_BATCH.get(name, {}))
        return
    method = METHODS.build(name, encoder, views, **SMALL_BATCH.get(name, {}))
    method.prepare(64)
    batch = _batch()
    if not method.uses_labels:
        del batch["y"]
    if name in MIXES_INPUTS:
        with pytest.raises(SelfsupError, match="cannot be mixed"):
            method(batch)
        return
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.01)
    for step in range(4):
        optimizer.zero_grad()
        loss = method(batch)["loss"]
        assert torch.isfinite(loss), name
        loss.backward()
        optimizer.step()
        method.on_step_end((step + 1) / 4)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parameters()), name

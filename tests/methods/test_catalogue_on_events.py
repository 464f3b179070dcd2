"""Every method of the catalogue trains on event-sequence views unchanged (a batch of padded
sequences, CoLES random slices), through the ordinary contracts.

The token methods (MAE, JEPA) need an encoder with tokens, which the events modality does not
offer, and Mixed Barlow Twins interpolates input tensors, which an event batch is not: they are
checked to be refused with one clear error instead.
"""

from __future__ import annotations

import pytest
import torch
from test_catalogue import SMALL_BATCH, _builtin

from _catalogue_steps import MIXES_INPUTS, refuses_without_tokens, trains_a_few_steps
from selfsup.modality import get_modality
from selfsup.registry import ENCODERS, METHODS, VIEWS

get_modality("events")  # registers the events encoders and views
from selfsup.modalities.events import EventBatch, EventSpec

SPEC = EventSpec(("shop",), (12,), ("amount",))


def _generic_methods() -> list[str]:
    return [n for n in METHODS.names() if _builtin(n) and not METHODS.entry(n).info.modality]


def _batch(size: int = 32) -> dict:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, 30, (size,), generator=generator)
    width = int(lengths.max())
    valid = torch.arange(width)[None, :] < lengths[:, None]
    x = EventBatch(torch.randint(1, 12, (size, width, 1), generator=generator) * valid[..., None],
                   torch.randn(size, width, 1, generator=generator) * valid[..., None],
                   torch.randn(size, width, generator=generator) * valid, lengths, (12,))
    return {"x": x, "index": torch.arange(size), "y": torch.arange(size) % 4}


@pytest.mark.parametrize("name", _generic_methods())
def test_catalogue_method_trains_on_event_views(name):
    torch.manual_seed(0)
    encoder = ENCODERS.build("event_gru", SPEC, hidden_dim=16, embedding_dim=4)
    views = VIEWS.build("coles_slices", SPEC)
    if refuses_without_tokens(name, encoder, SPEC, SMALL_BATCH.get(name, {})):
        return
    method = METHODS.build(name, encoder, views, **SMALL_BATCH.get(name, {}))
    losses = trains_a_few_steps(name, method, _batch(), steps=3)
    assert len(losses) == (3 if name not in MIXES_INPUTS else 0), name

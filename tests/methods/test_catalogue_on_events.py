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

from selfsup.errors import SelfsupError
from selfsup.modality import get_modality
from selfsup.registry import ENCODERS, METHODS, VIEWS

get_modality("events")  # registers the events encoders and views
from selfsup.modalities.events import EventBatch, EventSpec

SPEC = EventSpec(("shop",), (12,), ("amount",))
MIXES_INPUTS = {"mixed_barlow_twins"}


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
    for step in range(3):
        optimizer.zero_grad()
        loss = method(batch)["loss"]
        assert torch.isfinite(loss), name
        loss.backward()
        optimizer.step()
        method.on_step_end((step + 1) / 3)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parameters()), name

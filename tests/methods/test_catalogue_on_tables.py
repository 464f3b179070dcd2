"""Every method of the catalogue trains on table views unchanged (a batch of rows, SCARF-corrupted
views, the table MLP), through the ordinary contracts.

The token methods (MAE, JEPA) train on the feature-tokenizer transformer (one token per column);
Mixed Barlow Twins interpolates input tensors, which a table batch is not: it is checked to be
refused with one clear error instead.
"""

from __future__ import annotations

import pytest
import torch
from test_catalogue import SMALL_BATCH, _builtin

from selfsup.errors import SelfsupError
from selfsup.modality import get_modality
from selfsup.registry import ENCODERS, METHODS, VIEWS

get_modality("tabular")  # registers the tabular encoders and views
from selfsup.modalities.tabular import TabularBatch, TabularSpec

SPEC = TabularSpec(("a", "b", "c"), ("d", "e"), (4, 6))
MIXES_INPUTS = {"mixed_barlow_twins"}


def _generic_methods() -> list[str]:
    return [n for n in METHODS.names() if _builtin(n) and not METHODS.entry(n).info.modality]


def _batch(size: int = 32) -> dict:
    generator = torch.Generator().manual_seed(0)
    rows = TabularBatch(torch.randn(size, 3, generator=generator), torch.rand(size, 3, generator=generator) < 0.1,
                        torch.stack([torch.randint(0, 4, (size,), generator=generator),
                                     torch.randint(0, 6, (size,), generator=generator)], dim=1), SPEC.cardinalities)
    return {"x": rows, "index": torch.arange(size), "y": torch.arange(size) % 4}


@pytest.mark.parametrize("name", _generic_methods())
def test_catalogue_method_trains_on_table_views(name):
    torch.manual_seed(0)
    if "tokens" in METHODS.info(name).needs:
        encoder = ENCODERS.build("ft_transformer", SPEC, dim=16, depth=1, heads=2)
        views = VIEWS.build("none", SPEC)
    else:
        encoder = ENCODERS.build("tabular_mlp", SPEC, hidden_dims=[32, 16])
        views = VIEWS.build("scarf", SPEC)
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

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

from _catalogue_steps import MIXES_INPUTS, trains_a_few_steps
from selfsup.modality import get_modality
from selfsup.registry import ENCODERS, METHODS, VIEWS

get_modality("tabular")  # registers the tabular encoders and views
from selfsup.modalities.tabular import TabularBatch, TabularSpec

SPEC = TabularSpec(("a", "b", "c"), ("d", "e"), (4, 6))


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
    losses = trains_a_few_steps(name, method, _batch(), steps=4)
    assert len(losses) == (4 if name not in MIXES_INPUTS else 0), name

"""Every method of the catalogue trains on time series unchanged, through the ordinary contracts.

Pooled methods get a tiny `dilated_cnn` and the `ts_augment` views; the token methods (MAE,
JEPA) get the `patch_transformer`. Some series are NaN-padded (variable length): the loss must
stay finite and the encoder must receive gradients.
"""

from __future__ import annotations

import pytest
import torch
from test_catalogue import SMALL_BATCH, _builtin

from selfsup.registry import ENCODERS, METHODS, VIEWS

SHAPE = (24, 2)  # T, C


def _generic_methods() -> list[str]:
    return [n for n in METHODS.names() if _builtin(n) and not METHODS.entry(n).info.modality]


def _batch(size: int = 32) -> dict[str, torch.Tensor]:
    x = torch.randn(size, *SHAPE)
    x[::4, 18:] = float("nan")  # every 4th series is 18 steps long
    return {"x": x, "index": torch.arange(size), "y": torch.arange(size) % 4}


@pytest.mark.parametrize("name", _generic_methods())
def test_catalogue_method_trains_on_series(name):
    torch.manual_seed(0)
    tokens = "tokens" in METHODS.info(name).needs
    if tokens:
        encoder = ENCODERS.build("patch_transformer", SHAPE, patch_len=4, dim=16, depth=1, heads=2)
        views = VIEWS.build("none", SHAPE)
    else:
        encoder = ENCODERS.build("dilated_cnn", SHAPE, hidden_dim=8, output_dim=16, depth=2)
        views = VIEWS.build("ts_augment", SHAPE)
    method = METHODS.build(name, encoder, views, **SMALL_BATCH.get(name, {}))
    method.prepare(64)
    batch = _batch()
    if not method.uses_labels:
        del batch["y"]
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.01)
    for step in range(4):  # the bank-based methods (SeLa, DeepCluster-v2) have targets by the end
        optimizer.zero_grad()
        loss = method(batch)["loss"]
        assert torch.isfinite(loss), name
        loss.backward()
        optimizer.step()
        method.on_step_end((step + 1) / 4)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parameters()), name

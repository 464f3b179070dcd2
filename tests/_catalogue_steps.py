"""What every catalogue-on-a-modality test does once it has a method and a batch: train a few
steps through the ordinary contracts, or check the one clear refusal of a method the modality
cannot serve (token methods without a token encoder, input mixing on a non-tensor batch)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.registry import METHODS, VIEWS

#: methods that interpolate input tensors, which a modality's own batch type is not
MIXES_INPUTS = {"mixed_barlow_twins"}


def refuses_without_tokens(name: str, encoder: Any, spec: Any, kwargs: dict[str, Any]) -> bool:
    """True (after checking the one clear error) when ``name`` needs a token encoder."""
    if "tokens" not in METHODS.info(name).needs:
        return False
    with pytest.raises(SelfsupError, match="needs a token encoder"):
        METHODS.build(name, encoder, VIEWS.build("none", spec), **kwargs)
    return True


def trains_a_few_steps(name: str, method: Any, batch: dict[str, Any], steps: int = 4) -> list[float]:
    """``steps`` SGD steps of ``method`` on ``batch``: finite losses and gradients reaching the
    encoder (asserted here); a method that mixes inputs must refuse the batch with one clear error
    instead. Returns the losses of the steps taken ([] for a refused batch)."""
    method.prepare(64)
    if not method.uses_labels:
        batch = {k: v for k, v in batch.items() if k != "y"}
    if name in MIXES_INPUTS:
        with pytest.raises(SelfsupError, match="cannot be mixed"):
            method(batch)
        return []
    losses = []
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.01)
    for step in range(steps):
        optimizer.zero_grad()
        loss = method(batch)["loss"]
        assert torch.isfinite(loss), name
        losses.append(float(loss))
        loss.backward()
        optimizer.step()
        method.on_step_end((step + 1) / steps)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parameters()), name
    return losses

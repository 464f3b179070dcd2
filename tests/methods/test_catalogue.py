"""The whole catalogue: registered with family and paper, a recipe each, and modality-free.

Every method that works on pooled embeddings trains one step on *vectors* through an MLP
encoder with noise views: nothing in it may assume images. Token methods (MAE, JEPA) are
shown on a 1-D token encoder in tests/methods/test_masked_modelling.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _tiny import NoiseViews
from torch import nn

from selfsup.config import build_config, check_names
from selfsup.registry import METHODS

ROOT = Path(__file__).resolve().parents[2]
FAMILIES = {"contrastive", "self-distillation", "redundancy reduction", "clustering", "masked modelling",
            "latent prediction", "pretext", "discrete units"}
# Hyper-parameters that only need changing because this test's batch is 32 samples.
SMALL_BATCH = {"wmse": {"w_size": 16, "projector_dim": 8}}


def _pooled_methods() -> list[str]:
    """Methods for any modality that work on pooled embeddings (not token or time-series ones)."""
    return [
        n for n in METHODS.names()
        if "tokens" not in METHODS.info(n).needs
        and not METHODS.entry(n).info.modality
    ]


class _VectorEncoder(nn.Module):
    output_dim = 12

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 12))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _builtin(name: str) -> bool:
    # Other tests register throw-away methods (e.g. one that returns NaN); only ours count.
    return METHODS.get(name).__module__.startswith("selfsup.")


def test_catalogue_has_at_least_twenty_methods_across_the_families():
    names = [n for n in METHODS.names() if _builtin(n)]
    assert len(names) >= 20
    families = {METHODS.entry(n).info.family for n in names}
    assert families == FAMILIES
    for name in names:
        assert METHODS.entry(name).info.paper, name
        assert METHODS.get(name).__doc__ and "default" in METHODS.get(name).__doc__.lower(), name


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_has_a_valid_recipe(name):
    # methods for any modality have one on digits; those written for one modality (the
    # time-series ones: `modality` meta) have one on a built-in data set of it
    written_for = METHODS.entry(name).info.modality
    longer = [other for other in METHODS.names() if other != name and other.startswith(f"{name}_")]
    recipes = sorted(r for r in ROOT.glob(f"configs/{name}_*.yaml")  # byol_a_… is byol_a's, not byol's
                     if not any(r.stem.startswith(f"{other}_") for other in longer))
    if not written_for:
        assert (ROOT / "configs" / f"{name}_digits.yaml") in recipes, f"no recipe {name}_digits.yaml"
    assert recipes, f"no recipe configs/{name}_*.yaml"
    for recipe in recipes:
        config = build_config(str(recipe))
        assert config.method.name == name, recipe.name
        assert config.data.modality == (written_for or config.data.modality), recipe.name
        check_names(config)


@pytest.mark.parametrize("name", _pooled_methods())
def test_every_pooled_method_trains_a_step_on_vectors(name):
    torch.manual_seed(0)
    method = METHODS.build(name, _VectorEncoder(), NoiseViews(), **SMALL_BATCH.get(name, {}))
    method.prepare(64)
    batch = {"x": torch.randn(32, 10), "index": torch.arange(32)}
    if method.uses_labels:
        batch["y"] = torch.arange(32) % 4
    parameters = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(parameters, lr=0.01)
    # Four steps of 32 over 64 samples: methods that first fill a memory bank for one epoch
    # (DeepCluster-v2, SeLa) have targets by the last step.
    for step in range(4):
        optimizer.zero_grad()
        out = method(batch)
        assert out["loss"].dim() == 0 and torch.isfinite(out["loss"]), name
        out["loss"].backward()
        optimizer.step()
        method.on_step_end((step + 1) / 4)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in method.encoder.parameters()), name
    assert method.eval().embed(batch).shape == (32, 12)

"""The engine seeds every step as ``torch.manual_seed`` would, without its per-call traceback."""

from __future__ import annotations

import traceback

import pytest
import torch

from selfsup.engine.module import SelfSupervisedModule
from selfsup.methods import SimCLR
from selfsup.views.base import ViewMaker


class _Noise(ViewMaker):
    def augment(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return x + 0.1 * torch.randn_like(x)


class _Encoder(torch.nn.Linear):
    output_dim = 6

    def __init__(self) -> None:
        super().__init__(5, 6)


def _module(seed: int) -> SelfSupervisedModule:
    return SelfSupervisedModule(SimCLR(_Encoder(), _Noise(), 8, 4), seed=seed)


def test_step_seeding_draws_what_torch_manual_seed_draws() -> None:
    module = _module(seed=7)
    batch = {"x": torch.rand(4, 5)}
    torch.manual_seed(123)  # a different state first, so a no-op seeding would fail
    module.on_train_batch_start(batch, 0)
    drawn = (torch.rand(3), torch.randn(3), torch.randint(0, 100, (3,)), torch.randperm(6))
    torch.manual_seed(7 * 1_000_003)  # step 0, rank 0
    expected = (torch.rand(3), torch.randn(3), torch.randint(0, 100, (3,)), torch.randperm(6))
    for a, b in zip(drawn, expected):
        assert torch.equal(a, b)


def test_step_seeding_records_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_traceback(*args, **kwargs):
        raise AssertionError("traceback.format_stack called while seeding a step")

    monkeypatch.setattr(traceback, "format_stack", no_traceback)
    if not torch.cuda.is_initialized():
        # what the engine avoids: torch.manual_seed queues the seed for CUDA with a traceback
        with pytest.raises(AssertionError, match="format_stack"):
            torch.manual_seed(0)
    _module(seed=0).on_train_batch_start({"x": torch.rand(4, 5)}, 0)

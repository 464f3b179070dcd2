"""What the method tests share: a tiny MLP encoder, noise views and unlabeled vector batches.

With these a method test runs on plain vectors ``[B, 10]``: nothing in it may assume images.
Imported as ``from _tiny import ...`` (pytest puts this folder on ``sys.path``; ``tests/``
itself is on it through ``pythonpath`` in pyproject.toml, for ``_distributed.py``).
"""

from __future__ import annotations

import torch
from torch import nn

from selfsup.views.base import ViewMaker

IN_DIM = 10  # width of the vectors of unlabeled_batch


class TinyEncoder(nn.Module):
    """``x [B, in_dim] -> [B, output_dim]``: Linear, ReLU, Linear (no BatchNorm)."""

    def __init__(self, in_dim: int = IN_DIM, output_dim: int = 12) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, 16), nn.ReLU(), nn.Linear(16, output_dim))
        self.output_dim = output_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _RecordingViews(ViewMaker):
    """A view maker whose ``requested`` lists how many views each call asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[int] = []

    def forward(self, batch: dict, n: int = 2) -> list[dict]:
        self.requested.append(n)
        return super().forward(batch, n)


class NoiseViews(_RecordingViews):
    """Every view is ``x + 0.1 * noise``."""

    def augment(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return x + 0.1 * torch.randn_like(x)


class ShiftViews(_RecordingViews):
    """Deterministic views: view ``i`` is ``x + 0.1 i`` (non-float inputs are left as they are),
    so a test can recompute what the method saw."""

    def augment(self, x, i):
        return x + 0.1 * i if isinstance(x, torch.Tensor) and x.is_floating_point() else x


def unlabeled_batch(size: int = 16, seed: int | None = None) -> dict[str, torch.Tensor]:
    """``{"x": [size, IN_DIM], "index": [size]}``, drawn from the global RNG or from ``seed``.

    No ``"y"``: a self-supervised method that reads labels fails with a KeyError.
    """
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    return {"x": torch.randn(size, IN_DIM, generator=generator), "index": torch.arange(size)}


def assert_logs_are_detached_scalars(out: dict[str, torch.Tensor]) -> None:
    """Every value a method returns is a 0-d tensor; all but ``"loss"`` carry no gradient."""
    for key, value in out.items():
        assert isinstance(value, torch.Tensor) and value.dim() == 0, key
        if key != "loss":
            assert not value.requires_grad, f"logged scalar {key!r} must be detached"

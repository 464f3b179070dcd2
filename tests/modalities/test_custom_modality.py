"""The data contract carries data that is not a tensor: a modality defined here, in the test —
sets of 2-D points of different sizes, with their own collate (padding + mask), encoder (Deep
Sets) and views — trains SimCLR end to end through the public API, is evaluated, saved, loaded
and embedded, exactly as the built-in modalities are."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

import selfsup
from selfsup import modality as modality_registry
from selfsup.data import DataSource
from selfsup.modality import ModalitySpec, register_modality
from selfsup.registry import ENCODERS, VIEWS
from selfsup.views import ViewMaker


@dataclass
class PointSets:
    """A batch of point sets: ``points [B, N, 2]`` padded with zeros, ``mask [B, N]`` True where real."""

    points: torch.Tensor
    mask: torch.Tensor

    def to(self, device: Any) -> PointSets:
        return PointSets(self.points.to(device), self.mask.to(device))

    def __len__(self) -> int:
        return self.points.shape[0]


@dataclass(frozen=True)
class PointSpec:
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return {"point_dim": self.dim}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointSpec:
        return cls(int(data["point_dim"]))


class PointSetData(Dataset):
    """Items of different sizes: 6-24 points on a circle, on a line, or in a blob (the label)."""

    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.items, self.labels = [], torch.arange(n) % 3
        for label in self.labels.tolist():
            k = int(rng.integers(6, 25))
            t = rng.uniform(0, 2 * np.pi, k)
            if label == 0:
                pts = np.stack([np.cos(t), np.sin(t)], 1)
            elif label == 1:
                pts = np.stack([t / np.pi - 1, 0.5 * (t / np.pi - 1)], 1)
            else:
                pts = rng.normal(0, 0.25, (k, 2))
            self.items.append(torch.tensor(pts + rng.normal(0, 0.05, (k, 2)), dtype=torch.float32))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"points": self.items[i], "index": i, "y": int(self.labels[i])}


def collate_point_sets(items: list[dict[str, Any]]) -> dict[str, Any]:
    longest = max(item["points"].shape[0] for item in items)
    points = torch.zeros(len(items), longest, 2)
    mask = torch.zeros(len(items), longest, dtype=torch.bool)
    for row, item in enumerate(items):
        k = item["points"].shape[0]
        points[row, :k], mask[row, :k] = item["points"], True
    return {"x": PointSets(points, mask), "index": torch.tensor([i["index"] for i in items]),
            "y": torch.tensor([i["y"] for i in items])}


class DeepSets(nn.Module):
    """rho(mean over real points of phi(point)) (Zaheer et al. 2017)."""

    def __init__(self, input_spec: PointSpec, hidden_dim: int = 32, output_dim: int = 16) -> None:
        super().__init__()
        self.phi = nn.Sequential(nn.Linear(input_spec.dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim))
        self.rho = nn.Sequential(nn.ReLU(), nn.Linear(hidden_dim, output_dim))
        self.output_dim = output_dim

    def forward(self, x: PointSets) -> torch.Tensor:
        h = self.phi(x.points) * x.mask.unsqueeze(-1)
        return self.rho(h.sum(1) / x.mask.sum(1, keepdim=True).clamp(min=1))


class PointJitter(ViewMaker):
    """Per-point Gaussian jitter, a random rotation per set, and dropping 20 % of the points."""

    def __init__(self, input_spec: PointSpec | None = None, sigma: float = 0.05) -> None:
        super().__init__()
        self.sigma = sigma

    def augment(self, x: PointSets, i: int) -> PointSets:
        angle = torch.rand(len(x), device=x.points.device) * 2 * torch.pi
        rot = torch.stack([torch.cos(angle), -torch.sin(angle), torch.sin(angle), torch.cos(angle)], 1).view(-1, 2, 2)
        points = x.points @ rot + self.sigma * torch.randn_like(x.points)
        keep = x.mask & (torch.rand(x.mask.shape, device=x.mask.device) > 0.2)
        keep[:, 0] |= x.mask[:, 0]  # never empty
        return PointSets(points, keep)


@pytest.fixture
def pointsets():
    """Register the modality, its encoder and its views for one test, then remove them."""
    ENCODERS.register("test_deepsets", modality="pointsets")(DeepSets)
    VIEWS.register("test_point_jitter", modality="pointsets")(PointJitter)
    spec = register_modality(ModalitySpec(
        name="pointsets", description="sets of 2-D points", read=None,
        default_encoder="test_deepsets", default_views="test_point_jitter",
        input_spec_from_dict=PointSpec.from_dict,
    ))
    yield spec
    del ENCODERS._entries["test_deepsets"], VIEWS._entries["test_point_jitter"]
    del modality_registry._SPECS["pointsets"]


def _source(seed: int = 0) -> DataSource:
    train, test = PointSetData(96, seed), PointSetData(48, seed + 1)
    return DataSource(
        name="point_sets", modality="pointsets", train=train, test=test, collate=collate_point_sets,
        input_spec=PointSpec(2), y_train=train.labels, y_test=test.labels, class_names=["circle", "line", "blob"],
    )


def test_simclr_trains_end_to_end_on_variable_size_items_with_their_own_collate(pointsets, tmp_path):
    out = tmp_path / "run"
    run = selfsup.pretrain(method="simclr", data=_source(), epochs=3, batch_size=32, out=str(out), progress=False)

    for name in ("config.yaml", "encoder.safetensors", "encoder.json", "metrics.csv", "metrics.json", "report.html"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["point_dim"] == 2 and metrics["data"]["n_train"] == 96
    for side in ("pretrained", "random_init"):
        assert 0.0 <= metrics[side]["knn_acc"] <= 1.0 and metrics[side]["rankme"] > 0
    assert "raw_input" not in metrics  # not a fixed-shape tensor: nothing to flatten
    assert run.metrics["encoder"] == "test_deepsets"

    encoder = selfsup.load(out)
    assert isinstance(encoder, DeepSets)
    emb = selfsup.embed(out, data=_source())
    assert emb.shape == (96 + 48, 16) and np.isfinite(emb).all()
    torch.testing.assert_close(
        torch.from_numpy(emb[:32]),
        encoder(collate_point_sets([_source().train[i] for i in range(32)])["x"]).detach(),
    )

"""RotNet as transformation prediction: labels are view indices, on any modality."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _tiny import TinyEncoder

from selfsup.methods.rotnet import RotNet, TransformationPrediction
from selfsup.views.base import ViewMaker


class CountingEncoder(TinyEncoder):
    """:class:`TinyEncoder` recording the batch size of every call in ``calls``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.shape[0])
        return super().forward(x)


class ShiftViews(ViewMaker):
    """View i adds 4 i to the first feature: a known transformation per view index."""

    def augment(self, x: torch.Tensor, i: int) -> torch.Tensor:
        out = x.clone()
        out[:, 0] += 4.0 * i
        return out


def _method(**kwargs) -> TransformationPrediction:
    torch.manual_seed(0)
    return TransformationPrediction(CountingEncoder(), ShiftViews(), head_hidden_dim=16, **kwargs)


def _batch(b: int = 8) -> dict[str, torch.Tensor]:
    return {"x": torch.randn(b, 10)}  # no "y"


def test_rotnet_labels_are_the_view_indices():
    method, batch = _method().eval(), _batch()  # eval: BatchNorm independent of the batching
    out = method(batch)
    logits = torch.cat([method.classifier(method.encoder(v["x"])) for v in method.views(batch, 4)])
    labels = torch.tensor([i for i in range(4) for _ in range(8)])
    torch.testing.assert_close(out["loss"], F.cross_entropy(logits, labels))
    accuracy = (logits.argmax(1) == labels).float().mean()
    torch.testing.assert_close(out["transform_accuracy"], accuracy)
    wrong = torch.tensor([i for _ in range(8) for i in range(4)])  # sample-major: not the contract
    assert not torch.allclose(out["loss"], F.cross_entropy(logits, wrong))


def test_rotnet_encodes_all_tensor_views_in_one_pass():
    method = _method(num_transforms=3)
    method(_batch(5))
    assert method.encoder.calls == [15]  # BatchNorm sees every transformation together


def test_rotnet_forward_backward_without_labels_and_learns_the_transformation():
    method = _method()
    out = method(_batch())
    assert out["loss"].dim() == 0 and not out["transform_accuracy"].requires_grad
    out["loss"].backward()
    assert all(p.grad is not None for p in method.encoder.parameters())
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-2)
    for _ in range(60):
        optimizer.zero_grad()
        loss = method(_batch(32))["loss"]
        loss.backward()
        optimizer.step()
    assert method(_batch(64))["transform_accuracy"] > 0.9


def test_rotnet_is_registered_with_rotation_views():
    from selfsup.registry import METHODS

    entry = METHODS.entry("rotnet")
    assert entry.factory is TransformationPrediction is RotNet
    assert entry.info.family == "pretext" and "Rotations" in entry.info.paper
    assert entry.info.view_style == "rotation"


@pytest.mark.parametrize("kwargs", [{"num_transforms": 1}, {"head_layers": 0}, {"head_hidden_dim": True}])
def test_rotnet_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        TransformationPrediction(CountingEncoder(), ShiftViews(), **kwargs)

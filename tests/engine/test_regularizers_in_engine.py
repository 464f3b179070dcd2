"""Regularisers named in the config are added to any method's loss on its encoder outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from selfsup.config import build_config, check_names
from selfsup.engine.module import SelfSupervisedModule
from selfsup.errors import SelfsupError
from selfsup.losses.regularizers import koleo_loss
from selfsup.methods import Method, SimCLR
from selfsup.views.base import ViewMaker


class _Encoder(nn.Module):
    output_dim = 6

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(5, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Noise(ViewMaker):
    def augment(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return x + 0.1 * torch.randn_like(x)


class _NoEncoderCall(Method):
    def forward(self, batch):
        return {"loss": self.encoder.net.weight.sum()}


def _step(method: Method, regularizers: dict[str, float]) -> dict:
    module = SelfSupervisedModule(method, regularizers=regularizers)
    torch.manual_seed(0)
    return module.training_step({"x": torch.randn(16, 5)}, 0)


def test_regulariser_term_is_added_with_its_weight_and_logged():
    torch.manual_seed(0)
    method = SimCLR(_Encoder(), _Noise(), projector_hidden_dim=8, projector_dim=4)
    plain = _step(method, {})
    regularised = _step(method, {"koleo": 0.5})
    # Recompute the two encoder outputs of the step (same seed, same views).
    torch.manual_seed(0)
    x = torch.randn(16, 5)
    v1, v2 = method.views({"x": x}, 2)
    expected_term = (koleo_loss(method.encoder(v1["x"])) + koleo_loss(method.encoder(v2["x"]))) / 2
    torch.testing.assert_close(regularised["loss"], plain["loss"] + 0.5 * expected_term)
    assert regularised["logs"]["reg_koleo"] == pytest.approx(float(expected_term.detach()), rel=1e-5)


def test_regulariser_on_a_method_that_never_calls_its_encoder_is_a_clear_error():
    method = _NoEncoderCall(_Encoder(), _Noise())
    with pytest.raises(SelfsupError, match="never called its encoder"):
        _step(method, {"uniformity": 1.0})


def test_unknown_regulariser_or_negative_weight_is_refused_before_training():
    with pytest.raises(SelfsupError, match="Did you mean 'koleo'"):
        check_names(build_config(overrides=["regularizers.kolio=0.1"]))
    with pytest.raises(SelfsupError, match="weight >= 0"):
        check_names(build_config(overrides=["regularizers.koleo=-1"]))

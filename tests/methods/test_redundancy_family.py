"""SimSiam, W-MSE and Mixed Barlow Twins: any modality (tiny MLP encoder, noise views, no
labels), registry metadata, and the behaviours each paper relies on."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _tiny import (
    NoiseViews,
    ShiftViews,
    TinyEncoder,
    assert_logs_are_detached_scalars,
    unlabeled_batch,
)
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.losses.wmse import wmse_loss
from selfsup.methods.base import Method
from selfsup.methods.mixed_barlow_twins import MixedBarlowTwins
from selfsup.methods.simsiam import SimSiam
from selfsup.methods.wmse import WMSE

SMALL_HEADS = {
    SimSiam: {"projector_hidden_dim": 32, "projector_dim": 16, "predictor_hidden_dim": 8},
    WMSE: {"projector_hidden_dim": 32, "projector_dim": 4, "w_size": 8},
    MixedBarlowTwins: {"projector_hidden_dim": 32, "projector_dim": 16},
}


class RecordingEncoder(TinyEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        return super().forward(x)


def _build(cls: type[Method], encoder: nn.Module | None = None, views=None, **kw) -> Method:
    torch.manual_seed(0)
    return cls(encoder or TinyEncoder(), views or NoiseViews(), **{**SMALL_HEADS[cls], **kw})


@pytest.mark.parametrize("cls", list(SMALL_HEADS), ids=lambda c: c.__name__)
def test_forward_returns_finite_scalar_loss_and_detached_logs_without_labels(cls):
    out = _build(cls)(unlabeled_batch(seed=1))
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    assert_logs_are_detached_scalars(out)


@pytest.mark.parametrize("cls", list(SMALL_HEADS), ids=lambda c: c.__name__)
def test_backward_reaches_the_encoder_and_embed_has_the_encoder_width(cls):
    method = _build(cls)
    method(unlabeled_batch(seed=1))["loss"].backward()
    for p in method.encoder.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert method.eval().embed(unlabeled_batch(seed=1)).shape == (16, method.embed_dim)


def test_methods_are_registered_with_family_and_paper():
    from selfsup.registry import METHODS

    expected = {
        "simsiam": (SimSiam, "self-distillation"),
        "wmse": (WMSE, "redundancy reduction"),
        "mixed_barlow_twins": (MixedBarlowTwins, "redundancy reduction"),
    }
    for name, (cls, family) in expected.items():
        entry = METHODS.entry(name)
        assert entry.factory is cls
        assert entry.info.family == family and entry.info.paper


# ----------------------------------------------------------------------------- SimSiam


def _simsiam_parts(method: SimSiam, batch, detach_targets: bool):
    v1, v2 = ShiftViews()(batch, 2)
    z1 = method.projector(method.encoder(v1["x"]))
    z2 = method.projector(method.encoder(v2["x"]))
    p1, p2 = method.predictor(z1), method.predictor(z2)
    if detach_targets:
        z1, z2 = z1.detach(), z2.detach()
    return -(F.cosine_similarity(p1, z2).mean() + F.cosine_similarity(p2, z1).mean()) / 2


def _encoder_grads(method: Method, loss: torch.Tensor) -> list[torch.Tensor]:
    method.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in method.encoder.parameters()]


def test_simsiam_loss_is_symmetric_negative_cosine_with_stop_gradient_on_targets():
    method = _build(SimSiam, views=ShiftViews())
    batch = unlabeled_batch(seed=1)
    loss = method(batch)["loss"]
    expected = _simsiam_parts(method, batch, detach_targets=True)
    torch.testing.assert_close(loss, expected)

    got = _encoder_grads(method, method(batch)["loss"])
    stop_grad = _encoder_grads(method, _simsiam_parts(method, batch, detach_targets=True))
    no_stop_grad = _encoder_grads(method, _simsiam_parts(method, batch, detach_targets=False))
    for g, e in zip(got, stop_grad):
        torch.testing.assert_close(g, e)
    assert not all(torch.allclose(g, e) for g, e in zip(got, no_stop_grad))


def test_simsiam_output_std_is_zero_for_a_collapsed_encoder():
    class Constant(TinyEncoder):
        def forward(self, x):
            return super().forward(torch.zeros_like(x))

    collapsed = _build(SimSiam, encoder=Constant())(unlabeled_batch(seed=1))["output_std"]
    healthy = _build(SimSiam)(unlabeled_batch(seed=1))["output_std"]
    assert collapsed.item() == pytest.approx(0.0, abs=1e-6)
    assert healthy.item() > 0.5 / 16**0.5  # about 1/sqrt(d) for well-spread outputs


def test_simsiam_projector_ends_with_batch_norm_and_predictor_is_a_bottleneck():
    method = _build(SimSiam)
    assert isinstance(method.projector[-1], nn.BatchNorm1d)
    assert sum(isinstance(m, nn.Linear) for m in method.projector) == 3
    assert method.predictor[0].out_features == 8 and method.predictor[-1].out_features == 16


# ------------------------------------------------------------------------------- W-MSE


def test_wmse_uses_num_views_and_the_wmse_loss_of_their_projections():
    views = ShiftViews()
    method = _build(WMSE, views=views, num_views=4)
    batch = unlabeled_batch(seed=1)
    torch.manual_seed(5)
    loss = method(batch)["loss"]
    assert views.requested == [4]
    z = [method.projector(method.encoder(v["x"])) for v in ShiftViews()(batch, 4)]
    torch.manual_seed(5)
    torch.testing.assert_close(loss, wmse_loss(z, w_size=8, w_iter=1, eps=1e-4))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"projector_dim": 8, "w_size": 8}, "must exceed projector_dim"),
        ({"num_views": 1}, "num_views"),
        ({"eps": 1.0}, "eps"),
        ({"w_iter": 0}, "w_iter"),
    ],
)
def test_wmse_rejects_bad_hyper_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _build(WMSE, **kwargs)


# -------------------------------------------------------------------- Mixed Barlow Twins


def test_mixed_barlow_twins_encodes_the_lam_interpolation_of_the_two_views():
    encoder = RecordingEncoder()
    out = _build(MixedBarlowTwins, encoder=encoder, views=ShiftViews())(unlabeled_batch(seed=1))
    x1, x2, x_mixed = encoder.inputs
    lam = out["lam"].item()
    assert 0.0 < lam < 1.0
    # Each mixed row is lam * x1[b] + (1 - lam) * x2[perm[b]] for one permutation perm.
    partner = (x_mixed - lam * x1) / (1 - lam)
    distances = torch.cdist(partner, x2)
    perm = distances.argmin(dim=1)
    assert sorted(perm.tolist()) == list(range(16))
    torch.testing.assert_close(x_mixed, lam * x1 + (1 - lam) * x2[perm], atol=1e-5, rtol=0)
    assert {"on_diagonal", "off_diagonal", "mixup", "lam"} <= set(out)


@pytest.mark.parametrize(
    "x, found",
    [
        (torch.randint(0, 9, (16, 10)), "torch.int64 tensor"),  # token ids
        ({"nodes": torch.randn(16, 10)}, "dict"),  # a structured (e.g. graph) batch
    ],
    ids=["integer_tensor", "structured_batch"],
)
def test_mixed_barlow_twins_refuses_inputs_it_cannot_interpolate(x, found):
    method = _build(MixedBarlowTwins, views=ShiftViews())
    with pytest.raises(SelfsupError, match=f"floating-point tensor, got a? ?{found}"):
        method({"x": x})


def test_mixed_barlow_twins_rejects_bad_hyper_parameters():
    with pytest.raises(ValueError, match="standardization"):
        _build(MixedBarlowTwins, standardization="batch")
    with pytest.raises(ValueError, match="mixup_weight"):
        _build(MixedBarlowTwins, mixup_weight=-1.0)
    with pytest.raises(ValueError, match="mixup_alpha"):
        _build(MixedBarlowTwins, mixup_alpha=0.0)

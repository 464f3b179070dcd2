"""DCL, DCLW, Debiased, iSogCLR, MV-InfoNCE and SupCon on any modality: tiny MLP encoder,
noise views, and (SupCon aside) no labels."""

from __future__ import annotations

import pytest
import torch
from _tiny import NoiseViews, TinyEncoder, assert_logs_are_detached_scalars, unlabeled_batch

from selfsup.losses.isogclr import isogclr_loss
from selfsup.methods.dcl import DCL
from selfsup.methods.dclw import DCLW
from selfsup.methods.debiased import DebiasedContrastive
from selfsup.methods.isogclr import ISogCLR, _first_occurrences
from selfsup.methods.mv_infonce import MVInfoNCE
from selfsup.methods.supcon import SupCon

SMALL = {"projector_hidden_dim": 32, "projector_dim": 8}
CLASSES = [DCL, DCLW, DebiasedContrastive, ISogCLR, MVInfoNCE, SupCon]
NUM_SAMPLES = 40


def _build(cls, **kwargs):
    torch.manual_seed(0)
    method = cls(TinyEncoder(), NoiseViews(), **{**SMALL, **kwargs})
    method.prepare(NUM_SAMPLES)
    return method


def _batch(cls=None, index=None) -> dict[str, torch.Tensor]:
    index = torch.arange(16) if index is None else index
    batch = {**unlabeled_batch(len(index), seed=3), "index": index}
    if cls is not None and cls.uses_labels:
        batch["y"] = torch.arange(len(index)) % 4
    # Otherwise no "y": a self-supervised method that reads labels fails with a KeyError.
    return batch


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_forward_returns_a_finite_scalar_loss_and_detached_logs(cls):
    out = _build(cls)(_batch(cls))
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    assert_logs_are_detached_scalars(out)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_backward_reaches_the_encoder_and_embed_uses_its_output(cls):
    method = _build(cls)
    method(_batch(cls))["loss"].backward()
    for p in method.encoder.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert method.eval().embed(_batch(cls)).shape == (16, method.embed_dim)


def test_methods_are_registered_with_family_and_paper_and_only_supcon_uses_labels():
    from selfsup.registry import METHODS

    expected = {
        "dcl": DCL,
        "dclw": DCLW,
        "debiased": DebiasedContrastive,
        "isogclr": ISogCLR,
        "mv_infonce": MVInfoNCE,
        "supcon": SupCon,
    }
    for name, cls in expected.items():
        entry = METHODS.entry(name)
        assert (
            entry.factory is cls
            and cls.__doc__
            and "Paper defaults vs. library defaults" in cls.__doc__
        )
        assert entry.info.family == "contrastive" and entry.info.paper
        assert cls.uses_labels is (cls is SupCon)


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (DCL, {"temperature": 0.0}, "temperature"),
        (DCLW, {"sigma": -1.0}, "sigma"),
        (DebiasedContrastive, {"tau_plus": 1.0}, "tau_plus"),
        (ISogCLR, {"tau_min": 0.5, "tau_init": 0.1}, "tau_min"),
        (ISogCLR, {"gamma": 0.0}, "gamma"),
        (ISogCLR, {"rho": -0.1}, "rho"),
        (MVInfoNCE, {"num_views": 1}, "num_views"),
        (SupCon, {"projector_dim": 0}, "projector"),
    ],
)
def test_bad_hyper_parameters_are_rejected(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(TinyEncoder(), NoiseViews(), **kwargs)


def test_mv_infonce_asks_the_view_maker_for_num_views():
    method = _build(MVInfoNCE, num_views=3)
    method(_batch())
    assert method.views.requested == [3]


def test_supcon_needs_labels_and_uses_them():
    method = _build(SupCon)
    with pytest.raises(KeyError, match="y"):
        method(_batch())
    torch.manual_seed(5)
    same = method(_batch(SupCon))["loss"]
    batch = _batch(SupCon)
    batch["y"] = torch.arange(16)
    torch.manual_seed(5)
    assert not torch.allclose(method(batch)["loss"], same)


# ------------------------------------------------------------------------------- iSogCLR


def test_isogclr_needs_prepare_and_batch_index():
    method = ISogCLR(TinyEncoder(), NoiseViews(), **SMALL)
    with pytest.raises(RuntimeError, match="prepare"):
        method(_batch())
    method.prepare(NUM_SAMPLES)
    with pytest.raises(KeyError, match="index"):
        method({"x": torch.randn(16, 10)})
    with pytest.raises(ValueError, match="index"):
        method(_batch(index=torch.arange(NUM_SAMPLES, NUM_SAMPLES + 16)))


@pytest.mark.parametrize(("rho", "direction"), [(0.0, 1), (10.0, -1)])
def test_isogclr_temperature_moves_against_the_papers_gradient(rho, direction):
    # d F / d tau_i = rho - KL(p_i || uniform) (at u = g): 0 <= KL <= log(2N - 2) = 3.4 < 10,
    # so rho = 0 raises every temperature and rho = 10 lowers every one.
    method = _build(ISogCLR, rho=rho, temperature_lr=0.05, temperature_momentum=0.5)
    index = torch.arange(3, 19)
    batch = _batch(index=index)
    torch.manual_seed(7)
    z1, z2 = (method.projector(method.encoder(v["x"])) for v in method.views(batch, 2))
    expected = isogclr_loss(z1, z2, method.temperatures[index], method.u[index], method.gamma, rho)

    torch.manual_seed(7)  # the same views inside forward
    method(batch)
    step = 0.05 * 0.5 * expected.temperature_grad.clamp(-3, 3)
    torch.testing.assert_close(method.temperatures[index], (0.1 - step).clamp(0.05, 1.0))
    assert (torch.sign(method.temperatures[index] - 0.1) == direction).all()
    torch.testing.assert_close(method.u[index], expected.u)
    untouched = torch.ones(NUM_SAMPLES, dtype=torch.bool)
    untouched[index] = False
    assert (method.temperatures[untouched] == 0.1).all() and (method.u[untouched] == 0).all()


def test_isogclr_state_is_checkpointed_and_frozen_in_eval_mode():
    method = _build(ISogCLR, rho=0.0)
    method(_batch())
    state = method.state_dict()
    assert {"temperatures", "u", "temperature_velocity"} <= set(state)
    assert (
        state["temperatures"].shape == (NUM_SAMPLES,) and (state["temperatures"][:16] > 0.1).all()
    )

    restored = ISogCLR(TinyEncoder(), NoiseViews(), **SMALL)
    restored.prepare(NUM_SAMPLES)  # what the engine does before restoring a checkpoint
    restored.load_state_dict(state)
    for key in ("temperatures", "u", "temperature_velocity"):
        torch.testing.assert_close(getattr(restored, key), state[key])

    restored.eval()
    before = restored.temperatures.clone()
    restored(_batch())
    assert torch.equal(restored.temperatures, before)


def test_first_occurrences_keeps_the_first_copy_of_repeated_indices():
    index = torch.tensor([4, 2, 4, 7, 2, 9])
    assert sorted(_first_occurrences(index).tolist()) == [0, 1, 3, 5]

"""CLIP and SigLIP on 2 processes x B/2 give the loss and gradients of 1 process x B.

Same pattern as ``test_distributed_losses.py``: one spawn of two CPU processes
(``_distributed.run_distributed``) runs every check and returns its results; the tests compare
them with a single process on the full batch. Each modality has its own small linear encoder, and
the temperature (and SigLIP's bias) is a :class:`LearnableScale`; every parameter's gradient is
all-reduced and divided by the world size (what DDP does).
"""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from torch import nn

import selfsup.losses.clip
from _distributed import ddp_average, plain_gather, requires_gloo, run_distributed, shard
from selfsup.losses.clip import LearnableScale, clip_loss, multimodal_clip_loss, siglip_loss

N, IN_DIM, EMBED_DIM = 8, 6, 4  # global batch N, split into WORLD shards of N / WORLD
# Three valid rows on each shard: with masks the equality needs equal counts per process.
VALID = torch.tensor([True, False, True, True, True, True, False, True])
# No valid row on rank 0: it must still take part in every collective, forward and backward.
VALID_ON_RANK_1_ONLY = torch.tensor([False, False, False, False, True, False, True, True])
LOSSES = {
    "clip": lambda za, zb, t, rows: clip_loss(za, zb, t()),
    "siglip": lambda za, zb, t, rows: siglip_loss(za, zb, t(), t.bias),
    "clip_valid": lambda za, zb, t, rows: clip_loss(za, zb, t(), valid=VALID[rows]),
    "siglip_valid": lambda za, zb, t, rows: siglip_loss(za, zb, t(), t.bias, valid=VALID[rows]),
    "multimodal_clip": lambda za, zb, t, rows: multimodal_clip_loss(
        {"a": za, "b": zb, "a_plus_b": za + zb}, t(), present={"b": VALID[rows]}
    )[0],
}
ONE_SIDED = {
    "clip": lambda za, zb, t, rows: clip_loss(za, zb, t(), valid=VALID_ON_RANK_1_ONLY[rows]),
    "siglip": lambda za, zb, t, rows: siglip_loss(
        za, zb, t(), t.bias, valid=VALID_ON_RANK_1_ONLY[rows]
    ),
}

pytestmark = [requires_gloo, pytest.mark.slow]  # spawns processes: the slow lane


def _problem() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The same encoders, temperature and two modalities of the same batch, in every process."""
    g = torch.Generator().manual_seed(0)
    model = nn.ModuleDict({
        "encoder_a": nn.Linear(IN_DIM, EMBED_DIM),
        "encoder_b": nn.Linear(IN_DIM, EMBED_DIM),
        # small |bias| and scale so that SigLIP's gradients w.r.t. both are far from zero
        "temperature": LearnableScale(init_temperature=0.5, bias=-1.0),
    }).double()
    with torch.no_grad():
        for name in ("encoder_a", "encoder_b"):
            model[name].weight.copy_(0.4 * torch.randn(EMBED_DIM, IN_DIM, generator=g))
            model[name].bias.copy_(0.1 * torch.randn(EMBED_DIM, generator=g))
    xa = torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    xb = xa + 0.5 * torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    return model, xa, xb


def _loss_and_grads(loss_fn, rows: slice) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model, xa, xb = _problem()
    loss = loss_fn(model["encoder_a"](xa[rows]), model["encoder_b"](xb[rows]),
                   model["temperature"], rows)
    loss.backward()
    grads = {name: p.grad if p.grad is not None else torch.zeros_like(p)
             for name, p in model.named_parameters()}
    return loss.detach(), grads


def _ddp_loss_and_grads(loss_fn, rows: slice) -> dict:
    loss, grads = _loss_and_grads(loss_fn, rows)
    return {"loss": loss, "grads": dict(zip(grads, ddp_average(list(grads.values()))))}


def _worker(rank: int) -> dict:
    rows = shard(rank, N)
    results: dict = {"losses": {}, "plain_gather": {}, "one_sided": {}}
    for name, loss_fn in LOSSES.items():
        results["losses"][name] = _ddp_loss_and_grads(loss_fn, rows)
        with mock.patch.object(selfsup.losses.clip, "gather", plain_gather):
            results["plain_gather"][name] = _ddp_loss_and_grads(loss_fn, rows)
    for name, loss_fn in ONE_SIDED.items():
        results["one_sided"][name] = _ddp_loss_and_grads(loss_fn, rows)
    return results


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict]:
    return run_distributed(_worker, tmp_path_factory.mktemp("ddp_clip"))


@pytest.mark.parametrize("name", list(LOSSES))
def test_distributed_loss_equals_single_process_loss(per_rank, name):
    full_loss, _ = _loss_and_grads(LOSSES[name], slice(None))
    rank_losses = torch.stack([r["losses"][name]["loss"] for r in per_rank])
    torch.testing.assert_close(rank_losses.mean(), full_loss)


@pytest.mark.parametrize("name", list(LOSSES))
def test_distributed_gradients_equal_single_process_gradients(per_rank, name):
    _, full_grads = _loss_and_grads(LOSSES[name], slice(None))
    assert full_grads["temperature.log_scale"].abs() > 1e-3  # the scale's gradient is compared
    if name.startswith("siglip"):
        assert full_grads["temperature.bias"].abs() > 1e-3
    for result in per_rank:
        torch.testing.assert_close(result["losses"][name]["grads"], full_grads)


@pytest.mark.parametrize("name", list(LOSSES))
def test_plain_all_gather_gives_wrong_encoder_gradients(per_rank, name):
    _, full_grads = _loss_and_grads(LOSSES[name], slice(None))
    got = per_rank[0]["plain_gather"][name]
    # the forward is right; only the gradient sent to the other process's rows is lost. Every
    # loss gathers modality b (SigLIP only b: its encoder a's gradient is local and stays right).
    torch.testing.assert_close(
        torch.stack([r["plain_gather"][name]["loss"] for r in per_rank]).mean(),
        _loss_and_grads(LOSSES[name], slice(None))[0],
    )
    assert not torch.allclose(got["grads"]["encoder_b.weight"], full_grads["encoder_b.weight"])


@pytest.mark.parametrize("name", list(ONE_SIDED))
def test_a_process_without_valid_rows_returns_zero_and_the_other_the_full_loss(per_rank, name):
    full_loss, full_grads = _loss_and_grads(ONE_SIDED[name], slice(None))
    rank0, rank1 = (r["one_sided"][name] for r in per_rank)
    assert rank0["loss"].item() == 0.0
    torch.testing.assert_close(rank1["loss"], full_loss)
    # DDP optimises the mean of the two losses: half the full-batch loss, hence half its gradient
    halved = {name: grad / 2 for name, grad in full_grads.items()}
    torch.testing.assert_close(rank0["grads"], halved)

"""The InfoNCE variants on 2 processes x B/2 give the loss and gradients of 1 process x B.

Same pattern as ``test_distributed_losses.py``: one spawn of two CPU processes
(``_distributed.run_distributed``) runs every check and returns its results; the tests compare
them with a single process on the full batch. Gradients are those of a small linear layer
producing the embeddings, all-reduced and divided by the world size (what DDP does). It also
checks that iSogCLR's per-sample state ends up identical on both processes and equal to the
single-process state.
"""

from __future__ import annotations

from contextlib import ExitStack
from unittest import mock

import pytest
import torch
from torch import nn

from _distributed import ddp_average, plain_gather, requires_gloo, run_distributed, shard
from selfsup.losses import dcl, debiased, isogclr, mv_infonce, supcon, two_view_similarities
from selfsup.methods.isogclr import ISogCLR
from selfsup.views.base import ViewMaker

N, IN_DIM, EMBED_DIM = 8, 6, 4  # global batch N, split into WORLD shards of N / WORLD
LABELS = torch.tensor([0, 1, 0, 2, 1, 1, 2, 0])  # positives across the two shards
TEMPERATURES = torch.tensor([0.1, 0.3, 0.2, 0.5, 0.15, 0.4, 0.25, 0.1], dtype=torch.float64)
U_PREVIOUS = torch.tensor([0.0, 2.0, 0.0, 5.0, 1.0, 0.0, 3.0, 0.5], dtype=torch.float64)
LOSSES = {
    "dcl": lambda z, rows: dcl.dcl_loss(z[0], z[1], temperature=0.2),
    "dclw": lambda z, rows: dcl.dclw_loss(z[0], z[1], temperature=0.2, sigma=0.5),
    "debiased": lambda z, rows: debiased.debiased_contrastive_loss(
        z[0], z[1], temperature=0.5, tau_plus=0.1
    ),
    "supcon": lambda z, rows: supcon.supcon_loss(z[0], z[1], LABELS[rows], temperature=0.2),
    "mv_infonce": lambda z, rows: mv_infonce.mv_infonce_loss(z, temperature=0.5),
    "isogclr": lambda z, rows: (
        isogclr.isogclr_loss(z[0], z[1], TEMPERATURES[rows], U_PREVIOUS[rows], 0.8, 0.4).loss
    ),
}
# Every module of these losses that gathers: the plain-gather check patches them all.
GATHERING_MODULES = (two_view_similarities, dcl, supcon, mv_infonce)
STATE_INDEX = torch.tensor([5, 2, 9, 0, 7, 3, 8, 1])  # dataset positions of the global batch

pytestmark = [requires_gloo, pytest.mark.slow]  # spawns processes: the slow lane


def _problem() -> tuple[nn.Linear, list[torch.Tensor]]:
    """The same layer and three views of the same batch, in every process."""
    g = torch.Generator().manual_seed(0)
    layer = nn.Linear(IN_DIM, EMBED_DIM).double()
    with torch.no_grad():
        layer.weight.copy_(0.4 * torch.randn(EMBED_DIM, IN_DIM, generator=g))
        layer.bias.copy_(0.1 * torch.randn(EMBED_DIM, generator=g))
    x = torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    return layer, [
        x + 0.3 * torch.randn(N, IN_DIM, generator=g, dtype=torch.float64) for _ in range(3)
    ]


def _loss_and_grads(name: str, rows: slice) -> tuple[torch.Tensor, list[torch.Tensor]]:
    layer, views = _problem()
    loss = LOSSES[name]([layer(v[rows]) for v in views], rows)
    loss.backward()
    return loss.detach(), [layer.weight.grad, layer.bias.grad]


def _isogclr_outputs(rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
    layer, views = _problem()
    with torch.no_grad():
        out = isogclr.isogclr_loss(
            layer(views[0][rows]), layer(views[1][rows]), TEMPERATURES[rows], U_PREVIOUS[rows]
        )
    return out.u, out.temperature_grad


class _ShiftViews(ViewMaker):
    """Deterministic views, so every process sees the views one process would."""

    def augment(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return x + 0.2 * (i + 1) * torch.cos(3.0 * x)


def _isogclr_state(rows: slice) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(IN_DIM, 12))
    encoder.output_dim = 12
    method = ISogCLR(
        encoder, _ShiftViews(), projector_hidden_dim=16, projector_dim=EMBED_DIM, rho=0.1
    )
    method.prepare(10)
    method.projector.eval()  # batch-norm statistics would differ between a shard and the batch
    x = torch.randn(N, IN_DIM, generator=torch.Generator().manual_seed(1))
    method({"x": x[rows], "index": STATE_INDEX[rows]})
    return {
        k: method.state_dict()[k].clone() for k in ("temperatures", "u", "temperature_velocity")
    }


def _worker(rank: int) -> dict:
    rows = shard(rank, N)
    results: dict = {}
    for name in LOSSES:
        loss, grads = _loss_and_grads(name, rows)
        results[name] = {"loss": loss, "grads": ddp_average(grads)}
        with ExitStack() as patches:
            for module in GATHERING_MODULES:
                patches.enter_context(mock.patch.object(module, "gather", plain_gather))
            _, plain_grads = _loss_and_grads(name, rows)
        results[name]["plain_gather_grads"] = ddp_average(plain_grads)
    results["isogclr_u"], results["isogclr_temperature_grad"] = _isogclr_outputs(rows)
    results["isogclr_state"] = _isogclr_state(rows)
    return results


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict]:
    return run_distributed(_worker, tmp_path_factory.mktemp("ddp_variants"))


@pytest.mark.parametrize("name", list(LOSSES))
def test_distributed_loss_equals_single_process_loss(per_rank, name):
    full_loss, _ = _loss_and_grads(name, slice(None))
    # DDP optimises the mean of the per-rank losses.
    torch.testing.assert_close(torch.stack([r[name]["loss"] for r in per_rank]).mean(), full_loss)


@pytest.mark.parametrize("name", list(LOSSES))
def test_distributed_gradients_equal_single_process_gradients(per_rank, name):
    _, full_grads = _loss_and_grads(name, slice(None))
    for result in per_rank:
        for got, expected in zip(result[name]["grads"], full_grads):
            torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("name", list(LOSSES))
def test_plain_all_gather_gives_wrong_gradients(per_rank, name):
    _, full_grads = _loss_and_grads(name, slice(None))
    got = per_rank[0][name]["plain_gather_grads"]
    assert not all(torch.allclose(g, e) for g, e in zip(got, full_grads))


def test_isogclr_per_sample_estimates_match_single_process(per_rank):
    u, temperature_grad = _isogclr_outputs(slice(None))
    torch.testing.assert_close(torch.cat([r["isogclr_u"] for r in per_rank]), u)
    torch.testing.assert_close(
        torch.cat([r["isogclr_temperature_grad"] for r in per_rank]), temperature_grad
    )


def test_isogclr_state_is_identical_on_every_process_and_equals_single_process(per_rank):
    expected = _isogclr_state(slice(None))
    for key, value in expected.items():
        for result in per_rank:
            torch.testing.assert_close(result["isogclr_state"][key], value)
    # every sample of the global batch was written, the others were not
    written = torch.zeros(10, dtype=torch.bool)
    written[STATE_INDEX] = True
    assert (expected["u"][written] > 0).all() and (expected["u"][~written] == 0).all()

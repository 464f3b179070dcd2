"""Mixed Barlow Twins gathers its statistics: 2 processes x B/2 == 1 process x B.

Each process mixes its own shard with its own lambda and permutation (as the method does);
the single-process reference uses the per-sample lambdas and the permutation of the whole
batch that this implies. Loss and DDP-averaged gradients of a small non-linear layer must
match, and a plain ``all_gather`` (no autograd) must not; spawned by
``tests/_distributed.py``. (W-MSE whitens per process on purpose and needs no
such test: ``tests/losses/test_whitening.py`` checks that its loss is a mean over sub-batches.)
"""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from torch import nn

import selfsup.losses.mixed_barlow_twins
from _distributed import WORLD, ddp_average, plain_gather, requires_gloo, run_distributed
from selfsup.losses.mixed_barlow_twins import mixed_barlow_twins_loss

N, IN_DIM, EMBED_DIM = 8, 6, 4  # global batch N, split into WORLD shards of N / WORLD
SHARD = N // WORLD
STANDARDIZATIONS = ("shared", "own")

pytestmark = [requires_gloo, pytest.mark.slow]  # spawns processes: the slow lane


def _problem() -> tuple[nn.Linear, torch.Tensor, torch.Tensor, list[float], list[torch.Tensor]]:
    """The same layer, views, and per-rank mixing (lambda, local permutation) everywhere."""
    g = torch.Generator().manual_seed(0)
    layer = nn.Linear(IN_DIM, EMBED_DIM).double()
    with torch.no_grad():
        layer.weight.copy_(0.8 * torch.randn(EMBED_DIM, IN_DIM, generator=g))
        layer.bias.copy_(0.1 * torch.randn(EMBED_DIM, generator=g))
    x1 = torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    x2 = x1 + 0.3 * torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    lams = [0.3, 0.8]
    perms = [torch.randperm(SHARD, generator=g) for _ in range(WORLD)]
    return layer, x1, x2, lams, perms


def _loss_and_grads(standardization: str, rank: int | None):
    """Per-rank loss (rank given) or the single-process loss on the whole batch (None)."""
    layer, x1, x2, lams, perms = _problem()
    if rank is None:
        lam = torch.cat([torch.full((SHARD,), lams[r], dtype=torch.float64) for r in range(WORLD)])
        perm = torch.cat([perms[r] + r * SHARD for r in range(WORLD)])
    else:
        rows = slice(rank * SHARD, (rank + 1) * SHARD)
        x1, x2 = x1[rows], x2[rows]
        lam, perm = lams[rank], perms[rank]
    lam_col = lam.unsqueeze(1) if isinstance(lam, torch.Tensor) else lam
    x_mixed = lam_col * x1 + (1 - lam_col) * x2[perm]

    def encode(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(layer(x))  # non-linear, or the "shared" regulariser would vanish

    loss = mixed_barlow_twins_loss(
        encode(x1), encode(x2), encode(x_mixed), lam, perm,
        lambda_offdiag=0.1, mixup_weight=5.0, standardization=standardization,
    )
    loss.backward()
    return loss.detach(), [layer.weight.grad, layer.bias.grad]


def _worker(rank: int) -> dict:
    results: dict = {}
    for name in STANDARDIZATIONS:
        loss, grads = _loss_and_grads(name, rank)
        results[name] = {"loss": loss, "grads": ddp_average(grads)}
        with mock.patch.object(selfsup.losses.mixed_barlow_twins, "gather", plain_gather):
            _, plain_grads = _loss_and_grads(name, rank)
        results[name]["plain_gather_grads"] = ddp_average(plain_grads)
    return results


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict]:
    return run_distributed(_worker, tmp_path_factory.mktemp("ddp_mixed_barlow"))


@pytest.mark.parametrize("standardization", STANDARDIZATIONS)
def test_mixed_barlow_twins_distributed_loss_is_the_global_loss_on_every_rank(
    per_rank, standardization
):
    full_loss, _ = _loss_and_grads(standardization, None)
    for result in per_rank:
        torch.testing.assert_close(result[standardization]["loss"], full_loss)


@pytest.mark.parametrize("standardization", STANDARDIZATIONS)
def test_mixed_barlow_twins_distributed_gradients_equal_single_process_gradients(
    per_rank, standardization
):
    _, full_grads = _loss_and_grads(standardization, None)
    for result in per_rank:
        for got, expected in zip(result[standardization]["grads"], full_grads):
            torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("standardization", STANDARDIZATIONS)
def test_mixed_barlow_twins_with_plain_all_gather_gives_wrong_gradients(
    per_rank, standardization
):
    _, full_grads = _loss_and_grads(standardization, None)
    got = per_rank[0][standardization]["plain_gather_grads"]
    assert not all(torch.allclose(g, e) for g, e in zip(got, full_grads))

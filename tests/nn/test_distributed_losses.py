"""2 processes x B/2 must give the same loss and gradients as 1 process x B.

One spawn of two CPU processes (``_distributed.run_distributed``) runs every check and returns
its results; the tests below compare them with a single-process run on the full batch. The
gradients are those of a small linear layer producing the embeddings, all-reduced and
divided by the world size — what DDP does.
"""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from torch import nn

import selfsup.losses.barlow_twins
import selfsup.losses.nt_xent
import selfsup.losses.regularizers
import selfsup.losses.vicreg
from _distributed import WORLD, ddp_average, plain_gather, requires_gloo, run_distributed, shard
from selfsup.losses.barlow_twins import barlow_twins_loss
from selfsup.losses.nt_xent import nt_xent
from selfsup.losses.regularizers import effective_rank_loss, koleo_loss, uniformity_loss
from selfsup.losses.vicreg import vicreg_loss
from selfsup.nn.gather import gather

N, IN_DIM, EMBED_DIM = 8, 6, 4  # global batch N, split into WORLD shards of N / WORLD
LOSSES = {
    "nt_xent": lambda z1, z2: nt_xent(z1, z2, temperature=0.5),
    # a larger lambda than the paper's so the off-diagonal term matters at D = 4
    "barlow_twins": lambda z1, z2: barlow_twins_loss(z1, z2, lambda_offdiag=0.1),
    "vicreg": lambda z1, z2: vicreg_loss(z1, z2),
    # regularisers act on one batch of embeddings; a sum over both views uses both inputs
    "koleo": lambda z1, z2: koleo_loss(z1) + koleo_loss(z2),
    "uniformity": lambda z1, z2: uniformity_loss(z1) + uniformity_loss(z2),
    "effective_rank": lambda z1, z2: effective_rank_loss(z1) + effective_rank_loss(z2),
}
GLOBAL_STATISTIC_LOSSES = ("barlow_twins", "effective_rank")  # same value on every rank

pytestmark = [requires_gloo, pytest.mark.slow]  # spawns processes: the slow lane


def _problem() -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """The same layer and two views of the same batch, in every process."""
    g = torch.Generator().manual_seed(0)
    layer = nn.Linear(IN_DIM, EMBED_DIM).double()
    with torch.no_grad():
        layer.weight.copy_(0.4 * torch.randn(EMBED_DIM, IN_DIM, generator=g))
        layer.bias.copy_(0.1 * torch.randn(EMBED_DIM, generator=g))
    x1 = torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    x2 = x1 + 0.3 * torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    return layer, x1, x2


def _loss_and_grads(name: str, rows: slice) -> tuple[torch.Tensor, list[torch.Tensor]]:
    layer, x1, x2 = _problem()
    loss = LOSSES[name](layer(x1[rows]), layer(x2[rows]))
    loss.backward()
    return loss.detach(), [layer.weight.grad, layer.bias.grad]


def _worker(rank: int) -> dict:
    rows = shard(rank, N)
    results: dict = {}
    for name in LOSSES:
        loss, grads = _loss_and_grads(name, rows)
        results[name] = {"loss": loss, "grads": ddp_average(grads)}
        with mock.patch.object(selfsup.losses.nt_xent, "gather", plain_gather), \
                mock.patch.object(selfsup.losses.barlow_twins, "gather", plain_gather), \
                mock.patch.object(selfsup.losses.vicreg, "gather", plain_gather), \
                mock.patch.object(selfsup.losses.regularizers, "gather", plain_gather):
            _, plain_grads = _loss_and_grads(name, rows)
        results[name]["plain_gather_grads"] = ddp_average(plain_grads)

    # gather itself: rank order forward; backward sums every rank's gradient of its rows.
    x = torch.full((3, 2), float(rank), requires_grad=True)
    gathered = gather(x)
    (gathered * (rank + 1)).sum().backward()
    results["gather"] = {"value": gathered.detach(), "grad": x.grad}

    try:
        gather(torch.zeros(3 if rank == 0 else 2, 2))
        results["unequal_error"] = ""
    except ValueError as error:
        results["unequal_error"] = str(error)
    return results


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict]:
    return run_distributed(_worker, tmp_path_factory.mktemp("ddp"))


@pytest.mark.parametrize("name", list(LOSSES))
def test_distributed_loss_equals_single_process_loss(per_rank, name):
    full_loss, _ = _loss_and_grads(name, slice(None))
    rank_losses = torch.stack([r[name]["loss"] for r in per_rank])
    # DDP optimises the mean of the per-rank losses.
    torch.testing.assert_close(rank_losses.mean(), full_loss)
    if name in GLOBAL_STATISTIC_LOSSES:
        for loss in rank_losses:
            torch.testing.assert_close(loss, full_loss)


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


def test_gather_concatenates_in_rank_order_and_sums_gradients(per_rank):
    expected = torch.cat([torch.full((3, 2), float(r)) for r in range(WORLD)])
    # every rank weights the gathered tensor by (rank + 1): the summed gradient is 1 + 2.
    expected_grad = torch.full((3, 2), float(sum(r + 1 for r in range(WORLD))))
    for result in per_rank:
        torch.testing.assert_close(result["gather"]["value"], expected)
        torch.testing.assert_close(result["gather"]["grad"], expected_grad)


def test_gather_rejects_unequal_batch_sizes(per_rank):
    for result in per_rank:
        assert "same tensor shape on every process" in result["unequal_error"]
        assert "rank 0: (3, 2)" in result["unequal_error"]

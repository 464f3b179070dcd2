"""SimCSE's loss on 2 processes x B/2 gives the loss and gradients of 1 process x B (the second
encodings, the negatives, are gathered with the autograd-aware helper; a plain all_gather would
not do)."""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from torch import nn

from _distributed import ddp_average, plain_gather, requires_gloo, run_distributed, shard
from selfsup.modalities.text.losses import simcse

N, IN_DIM, EMBED_DIM = 8, 6, 4

pytestmark = [requires_gloo, pytest.mark.slow]  # spawns processes: the slow lane


def _loss_and_grads(rows: slice) -> tuple[torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    layer = nn.Linear(IN_DIM, EMBED_DIM).double()
    with torch.no_grad():
        layer.weight.copy_(0.4 * torch.randn(EMBED_DIM, IN_DIM, generator=g))
        layer.bias.copy_(0.1 * torch.randn(EMBED_DIM, generator=g))
    x = torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    # the second "dropout pass": the same inputs with other noise
    noisy = x + 0.3 * torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    loss = simcse.simcse_loss(layer(x[rows]), layer(noisy[rows]), temperature=0.5)
    loss.backward()
    return loss.detach(), [layer.weight.grad, layer.bias.grad]


def _worker(rank: int) -> dict:
    rows = shard(rank, N)
    loss, grads = _loss_and_grads(rows)
    with mock.patch.object(simcse, "gather", plain_gather):
        _, plain = _loss_and_grads(rows)
    return {"loss": loss, "grads": ddp_average(grads), "plain_gather_grads": ddp_average(plain)}


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict]:
    return run_distributed(_worker, tmp_path_factory.mktemp("ddp_simcse"))


def test_distributed_simcse_loss_and_gradients_equal_single_process(per_rank):
    full_loss, full_grads = _loss_and_grads(slice(None))
    torch.testing.assert_close(torch.stack([r["loss"] for r in per_rank]).mean(), full_loss)
    for result in per_rank:
        for got, expected in zip(result["grads"], full_grads):
            torch.testing.assert_close(got, expected)
    assert not all(torch.allclose(g, e) for g, e in zip(per_rank[0]["plain_gather_grads"], full_grads))

"""MoCo / NNCLR across 2 processes x B/2 equal 1 process x B; queues agree on every rank.

Same pattern as ``test_distributed_losses.py``: one spawn of two CPU processes
(``_distributed.run_distributed``) runs every check and returns its results, which the tests
compare with a single-process run on the full batch. Gradients are those of small linear
layers, all-reduced and divided by the world size, as DDP does.
"""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from torch import nn

from _distributed import WORLD, ddp_average, plain_gather, requires_gloo, run_distributed, shard
from selfsup.losses import moco, nnclr
from selfsup.losses.moco import moco_infonce, moco_v3_loss
from selfsup.losses.nnclr import nnclr_loss
from selfsup.nn.queue import Queue

N, IN_DIM, EMBED_DIM, QUEUE = 8, 6, 4, 10  # global batch N, split into WORLD shards

pytestmark = [requires_gloo, pytest.mark.slow]  # spawns processes: the slow lane


def _layer(g: torch.Generator, n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out).double()
    with torch.no_grad():
        layer.weight.copy_(0.4 * torch.randn(n_out, n_in, generator=g, dtype=torch.float64))
        layer.bias.copy_(0.1 * torch.randn(n_out, generator=g, dtype=torch.float64))
    return layer


def _problem() -> dict:
    """The same layers, views, queue and support set in every process."""
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    return {
        "query": _layer(g, IN_DIM, EMBED_DIM),  # trained: encoder + projector
        "key": _layer(g, IN_DIM, EMBED_DIM),  # momentum copy: no gradient
        "predictor": _layer(g, EMBED_DIM, EMBED_DIM),
        "x1": x1,
        "x2": x1 + 0.3 * torch.randn(N, IN_DIM, generator=g, dtype=torch.float64),
        "bank": torch.randn(QUEUE, EMBED_DIM, generator=g, dtype=torch.float64),
    }


def _moco_v2(p: dict, rows: slice) -> torch.Tensor:
    q = p["query"](p["x1"][rows])
    with torch.no_grad():
        k = p["key"](p["x2"][rows])
    return moco_infonce(q, k, p["bank"], temperature=0.2)


def _moco_v3(p: dict, rows: slice) -> torch.Tensor:
    q1 = p["predictor"](p["query"](p["x1"][rows]))
    q2 = p["predictor"](p["query"](p["x2"][rows]))
    with torch.no_grad():
        k1, k2 = p["key"](p["x1"][rows]), p["key"](p["x2"][rows])
    return moco_v3_loss(q1, q2, k1, k2, temperature=0.2)


def _nnclr(p: dict, rows: slice) -> torch.Tensor:
    z1, z2 = p["query"](p["x1"][rows]), p["query"](p["x2"][rows])
    return nnclr_loss(z1, z2, p["predictor"](z1), p["predictor"](z2), p["bank"], temperature=0.1)


LOSSES = {"moco_v2": _moco_v2, "moco_v3": _moco_v3, "nnclr": _nnclr}


def _loss_and_grads(name: str, rows: slice) -> tuple[torch.Tensor, list[torch.Tensor]]:
    problem = _problem()
    loss = LOSSES[name](problem, rows)
    loss.backward()
    trained = [problem["query"], problem["predictor"]]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p)
             for layer in trained for p in layer.parameters()]
    assert all(p.grad is None for p in problem["key"].parameters())
    return loss.detach(), grads


def _rank_keys(rank: int, call: int) -> torch.Tensor:
    """Keys rank ``rank`` enqueues at call ``call``: 3 rows, distinct across ranks and calls."""
    start = 100 * call + 10 * rank
    return torch.arange(start, start + 3, dtype=torch.float32)[:, None].repeat(1, 2)


def _worker(rank: int) -> dict:
    rows = shard(rank, N)
    results: dict = {}
    for name in LOSSES:
        loss, grads = _loss_and_grads(name, rows)
        results[name] = {"loss": loss, "grads": ddp_average(grads)}
    # Failing variants, to show the checks can fail.
    with mock.patch.object(moco, "gather", lambda x: x), \
            mock.patch.object(moco, "rank", lambda: 0):
        results["moco_v3"]["local_keys_loss"] = _loss_and_grads("moco_v3", rows)[0]
    with mock.patch.object(nnclr, "gather", plain_gather):
        results["nnclr"]["plain_gather_grads"] = ddp_average(_loss_and_grads("nnclr", rows)[1])

    # Each rank enqueues its own keys; 2 calls x 2 ranks x 3 rows = 12 > size 10: wraps.
    queue = Queue(size=QUEUE, dim=2)
    for call in range(2):
        queue.enqueue(_rank_keys(rank, call))
    results["queue"] = {"items": queue.items.clone(), "pointer": queue.pointer.clone(),
                        "filled": queue.filled.clone()}
    return results


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict]:
    return run_distributed(_worker, tmp_path_factory.mktemp("ddp_momentum"))


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


def test_moco_v3_without_gathering_the_keys_gives_a_different_loss(per_rank):
    full_loss, _ = _loss_and_grads("moco_v3", slice(None))
    local = torch.stack([r["moco_v3"]["local_keys_loss"] for r in per_rank]).mean()
    assert not torch.allclose(local, full_loss)


def test_nnclr_with_a_plain_all_gather_gives_wrong_gradients(per_rank):
    _, full_grads = _loss_and_grads("nnclr", slice(None))
    got = per_rank[0]["nnclr"]["plain_gather_grads"]
    assert not all(torch.allclose(g, e) for g, e in zip(got, full_grads))


def test_queue_holds_the_same_keys_on_every_rank_as_one_process_would(per_rank):
    single = Queue(size=QUEUE, dim=2)
    for call in range(2):  # one process sees the global batch, in rank order
        single.enqueue(torch.cat([_rank_keys(r, call) for r in range(WORLD)]))
    for result in per_rank:
        torch.testing.assert_close(result["queue"]["items"], single.items)
        assert int(result["queue"]["pointer"]) == int(single.pointer) == 2
        assert int(result["queue"]["filled"]) == QUEUE

"""DINO across processes: 2 processes x B/2 give the single-process loss, gradients and centre.

The loss is a mean of per-sample terms, but the centre is the EMA of the teacher's mean over
the GLOBAL batch (Caron et al. 2021, eq. 4; the official code all-reduces it): every process
must end each step with the same centre, the one a single process computes on the full batch.
One spawn of two CPU processes (tests/_distributed.py) runs the checks and returns results.
"""

from __future__ import annotations

from unittest import mock

import pytest
import torch
from torch import nn

import selfsup.losses.dino
from _distributed import ddp_average, requires_gloo, run_distributed, shard
from selfsup.losses.dino import DINOLoss

N, IN_DIM, K = 8, 6, 5  # global batch N, split into WORLD shards of N / WORLD
NUM_VIEWS, NUM_GLOBAL, STEPS = 4, 2, 2

pytestmark = [requires_gloo, pytest.mark.slow]  # spawns processes: the slow lane


def _problem() -> tuple[nn.Linear, nn.Linear, torch.Tensor]:
    """Student and teacher layers, STEPS batches of NUM_VIEWS views; the same in every process."""
    g = torch.Generator().manual_seed(0)
    student, teacher = nn.Linear(IN_DIM, K).double(), nn.Linear(IN_DIM, K).double()
    for layer in (student, teacher):
        with torch.no_grad():
            layer.weight.copy_(torch.randn(K, IN_DIM, generator=g))
            layer.bias.copy_(torch.randn(K, generator=g))  # a bias the centre must learn
    views = torch.randn(STEPS, NUM_VIEWS, N, IN_DIM, generator=g, dtype=torch.float64)
    return student, teacher, views


def _run(rows: slice) -> dict[str, list[torch.Tensor]]:
    """STEPS training steps of DINOLoss on ``rows`` of every view: losses, grads, centres."""
    student, teacher, views = _problem()
    criterion = DINOLoss(K, student_temperature=0.1, teacher_temperature=0.04).double()
    out: dict[str, list[torch.Tensor]] = {"loss": [], "grads": [], "center": []}
    for step in range(STEPS):
        student.zero_grad()
        s = [student(views[step, v, rows]) for v in range(NUM_VIEWS)]
        with torch.no_grad():
            t = [teacher(views[step, v, rows]) for v in range(NUM_GLOBAL)]
        loss = criterion(s, t)
        loss.backward()
        out["loss"].append(loss.detach())
        out["grads"].append(torch.cat([student.weight.grad.flatten(), student.bias.grad]))
        out["center"].append(criterion.center.clone())
    return out


def _worker(rank: int) -> dict:
    rows = shard(rank, N)
    results = _run(rows)
    ddp_average(results["grads"])
    # The bug the test must catch: a centre from the local batch only.
    with mock.patch.object(selfsup.losses.dino, "gather", lambda x: x):
        results["local_center"] = _run(rows)["center"]
    return results


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict]:
    return run_distributed(_worker, tmp_path_factory.mktemp("ddp_dino"))


@pytest.fixture(scope="module")
def full() -> dict[str, list[torch.Tensor]]:
    return _run(slice(None))


def test_distributed_dino_centre_is_the_ema_of_the_global_batch_mean(per_rank, full):
    for result in per_rank:
        for got, expected in zip(result["center"], full["center"]):
            torch.testing.assert_close(got, expected)
    # and not the local mean: without the gather each rank would drift to its own centre
    for result in per_rank:
        assert not torch.allclose(result["local_center"][0], full["center"][0])


def test_distributed_dino_loss_equals_single_process_loss(per_rank, full):
    # DDP optimises the mean of the per-rank losses; step 2 also checks that step 1's centre
    # update left every rank with the full-batch centre.
    for step in range(STEPS):
        rank_losses = torch.stack([r["loss"][step] for r in per_rank])
        torch.testing.assert_close(rank_losses.mean(), full["loss"][step])


def test_distributed_dino_gradients_equal_single_process_gradients(per_rank, full):
    for result in per_rank:
        for got, expected in zip(result["grads"], full["grads"]):
            torch.testing.assert_close(got, expected)

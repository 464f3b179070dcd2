"""DINO across processes: 2 processes x B/2 give the single-process loss, gradients and centre.

The loss is a mean of per-sample terms, but the centre is the EMA of the teacher's mean over
the GLOBAL batch (Caron et al. 2021, eq. 4; the official code all-reduces it): every process
must end each step with the same centre, the one a single process computes on the full batch.
One spawn of two CPU processes (gloo, file:// rendezvous) runs the checks and saves results,
as in tests/nn/test_distributed_losses.py.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import selfsup.losses.distillation
from selfsup.losses.distillation import DINOLoss

WORLD = 2
N, IN_DIM, K = 8, 6, 5  # global batch N, split into WORLD shards of N / WORLD
NUM_VIEWS, NUM_GLOBAL, STEPS = 4, 2, 2
SPAWN_DEADLINE_S = 120

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed gloo"
)


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


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD,
        timeout=timedelta(seconds=60),
    )
    try:
        shard = N // WORLD
        rows = slice(rank * shard, (rank + 1) * shard)
        results = _run(rows)
        for grad in results["grads"]:  # what DDP does with parameter gradients
            dist.all_reduce(grad)
            grad /= WORLD
        # The bug the test must catch: a centre from the local batch only.
        with mock.patch.object(selfsup.losses.distillation, "gather", lambda x: x):
            results["local_center"] = _run(rows)["center"]
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("ddp_dino")
    context = mp.start_processes(
        _worker, args=(str(tmp / "rendezvous"), str(tmp)), nprocs=WORLD, join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + SPAWN_DEADLINE_S
    while not context.join(timeout=1):  # raises if a worker failed, with its traceback
        if time.monotonic() > deadline:
            for process in context.processes:
                if process.is_alive():
                    process.kill()
            pytest.fail(f"distributed workers did not finish within {SPAWN_DEADLINE_S} s")
    return [torch.load(tmp / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


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

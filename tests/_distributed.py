"""The two-process harness of the distributed-equivalence tests (``test_distributed_*``, ColloSSL).

A module defines a module-level ``worker(rank) -> dict`` (spawned processes import it by
name, so no lambdas or closures) and one module-scoped fixture that runs it::

    pytestmark = requires_gloo

    @pytest.fixture(scope="module")
    def per_rank(tmp_path_factory) -> list[dict]:
        return run_distributed(_worker, tmp_path_factory.mktemp("ddp_x"))

:func:`run_distributed` spawns ``WORLD`` CPU processes in a gloo group (``file://``
rendezvous, so no port can clash), runs ``worker`` in each and returns what each returned, in
rank order; the tests then compare it with one process on the full batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD = 2
SPAWN_DEADLINE_S = 120

requires_gloo = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed gloo"
)


def shard(rank: int, n: int) -> slice:
    """The rows of ``rank``'s equal share of a global batch of ``n``."""
    size = n // WORLD
    return slice(rank * size, (rank + 1) * size)


def plain_gather(x: torch.Tensor) -> torch.Tensor:
    """The common bug: all_gather without autograd, keeping only the local rows' gradient."""
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    parts[dist.get_rank()] = x
    return torch.cat(parts)


def ddp_average(grads: list[torch.Tensor]) -> list[torch.Tensor]:
    """What DDP does with parameter gradients: all-reduce, divide by the world size."""
    for g in grads:
        dist.all_reduce(g)
        g /= dist.get_world_size()
    return grads


def _run(rank: int, worker: Callable[[int], dict[str, Any]], init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD,
        timeout=timedelta(seconds=60),
    )
    try:
        torch.save(worker(rank), Path(out_dir) / f"rank{rank}.pt")
        # Both ranks reach teardown together: a rank that tears gloo down while its peer still
        # has a collective in flight can abort the process ("terminate called without an
        # active exception", SIGABRT) after its work is done.
        dist.barrier()
    finally:
        dist.destroy_process_group()


def run_distributed(worker: Callable[[int], dict[str, Any]], tmp: Path) -> list[dict[str, Any]]:
    """``worker(rank)`` on each of ``WORLD`` processes; their results, in rank order."""
    context = mp.start_processes(
        _run, args=(worker, str(tmp / "rendezvous"), str(tmp)), nprocs=WORLD, join=False,
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

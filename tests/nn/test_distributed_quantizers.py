"""VectorQuantizer across processes: 2 gloo processes with half a batch each must keep one
codebook, and its EMA update must equal one process's on the full batch.

* EMA counts and sums are summed over processes (``all_reduce``), so the update is the
  full-batch one.
* The first-batch initialisation and dead-code restarts draw from the local batch on rank 0 and
  broadcast, so every process holds the same entries.
"""

from __future__ import annotations

import pytest
import torch

from _distributed import requires_gloo, run_distributed, shard
from selfsup.nn.quantizers import VectorQuantizer

N, DIM = 16, 3
CODEBOOK = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [-1.0, 0.5, 0.0], [50.0, 50.0, 50.0]])

pytestmark = [requires_gloo, pytest.mark.slow]  # spawns processes: the slow lane


def _batches() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(N, DIM, generator=g) for _ in range(3)]


def _fixed(**options) -> VectorQuantizer:
    vq = VectorQuantizer(4, DIM, init_from_data=False, **options).train()
    vq.codebook.copy_(CODEBOOK)
    vq.embed_sum.copy_(CODEBOOK)
    return vq


def _ema_codebook(rows: slice) -> torch.Tensor:
    vq = _fixed(decay=0.8, restart_after=None)
    for batch in _batches():
        vq(batch[rows])
    return vq.codebook.clone()


def _worker(rank: int) -> dict[str, torch.Tensor]:
    rows = shard(rank, N)
    torch.manual_seed(rank)  # different local draws: only the broadcast keeps them equal
    initialised = VectorQuantizer(4, DIM).train()
    initialised(_batches()[0][rows])
    restarted = _fixed(restart_after=2)  # entry 3 sits far from the data and is never chosen
    for batch in _batches():
        restarted(batch[rows])
    return {"ema": _ema_codebook(rows), "initialised": initialised.codebook.clone(),
            "restarted": restarted.codebook.clone()}


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict[str, torch.Tensor]]:
    return run_distributed(_worker, tmp_path_factory.mktemp("ddp_vq"))


def test_ema_update_over_two_processes_equals_the_full_batch_one(per_rank):
    full = _ema_codebook(slice(0, N))
    for result in per_rank:
        torch.testing.assert_close(result["ema"], full)


def test_initialisation_and_restarts_leave_one_codebook_on_every_process(per_rank):
    for key in ("initialised", "restarted"):
        torch.testing.assert_close(per_rank[0][key], per_rank[1][key])
    assert per_rank[0]["restarted"][3].abs().max() < 10  # the far entry was restarted at a data vector

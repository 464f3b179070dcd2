"""Clustering across processes: 2 gloo processes must agree with 1 process on the full batch.

* Sinkhorn–Knopp sums its cluster marginals over the global batch (equal and unequal shards).
* SwAV's loss and gradients (codes from the distributed Sinkhorn) equal the full-batch ones,
  and a queue shared by all processes is counted once.
* The per-sample memory banks of SeLa and DeepCluster-v2 are identical on every process and
  hold the rows of every process's batch; so are the labels / centroids solved from them.

One spawn of two CPU processes (tests/_distributed.py) runs every check and returns its results.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from _distributed import WORLD, ddp_average, requires_gloo, run_distributed, shard
from selfsup.losses.swav import swav_loss
from selfsup.nn.sinkhorn import sinkhorn
from selfsup.views.base import IdentityViews

N, IN_DIM, EMBED_DIM, CLUSTERS = 8, 6, 4, 3
UNEQUAL_ROWS = (3, 5)  # rows of rank 0 and rank 1 in the unequal-shard check

pytestmark = [requires_gloo, pytest.mark.slow]  # spawns processes: the slow lane


def _scores(rows: int = N) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(rows, CLUSTERS, generator=g, dtype=torch.float64)


def _swav_problem() -> tuple[nn.Linear, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    layer = nn.Linear(IN_DIM, EMBED_DIM).double()
    with torch.no_grad():
        layer.weight.copy_(0.5 * torch.randn(EMBED_DIM, IN_DIM, generator=g))
        layer.bias.copy_(0.1 * torch.randn(EMBED_DIM, generator=g))
    prototypes = F.normalize(torch.randn(CLUSTERS, EMBED_DIM, generator=g, dtype=torch.float64), dim=1)
    x1 = torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    x2 = x1 + 0.3 * torch.randn(N, IN_DIM, generator=g, dtype=torch.float64)
    return layer, prototypes, x1, x2


def _swav_loss_and_grads(rows: slice) -> tuple[torch.Tensor, list[torch.Tensor]]:
    layer, prototypes, x1, x2 = _swav_problem()
    scores = [F.normalize(layer(x[rows]), dim=1) @ prototypes.T for x in (x1, x2)]
    codes = [sinkhorn(s, epsilon=0.5, iterations=3) for s in scores]
    loss = swav_loss(scores, codes, temperature=0.1)
    loss.backward()
    return loss.detach(), [layer.weight.grad, layer.bias.grad]


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(IN_DIM, 5)
        self.output_dim = 5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _method_data() -> torch.Tensor:
    return torch.randn(N, IN_DIM, generator=torch.Generator().manual_seed(2))


def _build(name: str):
    from selfsup.methods.deepcluster_v2 import DeepClusterV2
    from selfsup.methods.sela import SeLa
    from selfsup.methods.swav import SwAV

    torch.manual_seed(0)
    if name == "sela":
        method = SeLa(_Tiny(), IdentityViews(), num_clusters=2, num_label_updates=1)
    elif name == "deepcluster_v2":
        method = DeepClusterV2(_Tiny(), IdentityViews(), projector_hidden_dim=8, projector_dim=3,
                               num_prototypes=(2, 3))
    else:
        method = SwAV(_Tiny(), IdentityViews(), projector_hidden_dim=8, projector_dim=3,
                      num_prototypes=CLUSTERS, epsilon=0.5, queue_length=6, queue_start=0.0)
    method.prepare(N)
    return method


def _worker(rank: int) -> dict:
    rows = shard(rank, N)
    results: dict = {}
    results["sinkhorn_equal"] = sinkhorn(_scores()[rows], epsilon=0.5, iterations=3)
    start = sum(UNEQUAL_ROWS[:rank])
    results["sinkhorn_unequal"] = sinkhorn(
        _scores()[start : start + UNEQUAL_ROWS[rank]], epsilon=0.5, iterations=3
    )
    loss, grads = _swav_loss_and_grads(rows)
    results["swav"] = {"loss": loss, "grads": ddp_average(grads)}

    # SwAV with a full queue: the queue (identical on both ranks) joins the Sinkhorn once.
    swav = _build("swav")
    swav.queues[0].enqueue(_scores(6).float()[rank * 3 : (rank + 1) * 3])  # gathered
    results["swav_queue"] = swav.queues[0].values().clone()
    results["swav_queue_codes"] = swav._codes(_scores().float()[rows], 0)

    # Memory banks: each rank trains on its own shard of the data set.
    data, index = _method_data(), torch.arange(N)[rows]
    for name in ("sela", "deepcluster_v2"):
        method = _build(name)
        method({"x": data[index], "index": index})
        method.on_step_end(0.5)  # a full data set seen: relabel / re-cluster
        results[name] = {k: v.clone() for k, v in method.state_dict().items()
                         if k in ("features", "seen", "labels", "samples_seen", "bank",
                                  "filled", "assignments", "centroids", "clusterings_done")}
        with torch.no_grad():
            if name == "sela":
                results[name]["own_rows"] = method.encoder(data[index])
            else:
                results[name]["own_rows"] = F.normalize(method.projector(method.encoder(data[index])), dim=1)
    return results


@pytest.fixture(scope="module")
def per_rank(tmp_path_factory) -> list[dict]:
    return run_distributed(_worker, tmp_path_factory.mktemp("ddp_clustering"))


def test_distributed_sinkhorn_equals_single_process_sinkhorn_on_the_full_batch(per_rank):
    full = sinkhorn(_scores(), epsilon=0.5, iterations=3)
    torch.testing.assert_close(torch.cat([r["sinkhorn_equal"] for r in per_rank]), full)
    # and the local-only result differs: the all-reduce matters
    local = sinkhorn(_scores()[: N // WORLD], epsilon=0.5, iterations=3)
    assert not torch.allclose(per_rank[0]["sinkhorn_equal"], local)


def test_distributed_sinkhorn_handles_unequal_shards(per_rank):
    full = sinkhorn(_scores(), epsilon=0.5, iterations=3)
    got = torch.cat([r["sinkhorn_unequal"] for r in per_rank])
    torch.testing.assert_close(got, full)


def test_distributed_swav_loss_and_gradients_equal_single_process(per_rank):
    full_loss, full_grads = _swav_loss_and_grads(slice(None))
    torch.testing.assert_close(torch.stack([r["swav"]["loss"] for r in per_rank]).mean(), full_loss)
    for result in per_rank:
        for got, expected in zip(result["swav"]["grads"], full_grads):
            torch.testing.assert_close(got, expected)


def test_swav_shared_queue_is_counted_once_in_the_distributed_sinkhorn(per_rank):
    queue = per_rank[0]["swav_queue"]
    torch.testing.assert_close(per_rank[1]["swav_queue"], queue)
    assert queue.shape == (6, 3)
    swav = _build("swav")
    swav.queues[0].enqueue(queue)
    single = swav._codes(_scores().float(), 0)  # one process, full batch, same queue
    got = torch.cat([r["swav_queue_codes"] for r in per_rank])
    torch.testing.assert_close(got, single)


@pytest.mark.parametrize("name", ["sela", "deepcluster_v2"])
def test_memory_banks_are_identical_on_every_process_and_hold_every_batch(per_rank, name):
    first, second = (r[name] for r in per_rank)
    for key in first:
        if key != "own_rows":
            torch.testing.assert_close(first[key], second[key], msg=f"{name}.{key} differs")
    shard = N // WORLD
    if name == "sela":
        assert bool(first["seen"].all()) and int(first["samples_seen"]) == N
        bank = first["features"]
    else:
        assert bool(first["filled"].all()) and int(first["clusterings_done"]) == 1
        assert bool((first["assignments"] >= 0).all())
        bank = first["bank"][0]  # global view 0 (identity views: both global views are equal)
    for r, result in enumerate(per_rank):
        torch.testing.assert_close(bank[r * shard : (r + 1) * shard], result[name]["own_rows"])

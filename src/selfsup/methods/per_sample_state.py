"""Helpers of the methods that keep per-sample state over the whole data set (SeLa,
DeepCluster-v2). It registers nothing.

Such a method keeps buffers indexed by ``batch["index"]`` (a memory bank, labels). They are
created in :meth:`~selfsup.methods.base.Method.prepare`, so they are checkpointed and resumed,
and every process writes the rows of *every* process's batch (gathered first,
:func:`gather_rows`), so the banks are identical on all processes and any of them can
re-cluster the whole data set; what a process then derives from the bank is made exactly
equal with :func:`broadcast_from_first`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from selfsup.nn.gather import gather, is_distributed


def sample_index(batch: dict[str, Any], method: str) -> Tensor:
    """``batch["index"]``, the position of each sample in the training set ``[B]``; a KeyError
    naming ``method`` when the batch has none."""
    if "index" not in batch:
        raise KeyError(f"{method} keeps per-sample state and needs batch['index'] (the position of "
                       "each sample in the training set); the built-in data loaders provide it.")
    return batch["index"]


@torch.no_grad()
def gather_rows(index: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    """(index, values) of every process's batch, in rank order (identical on every rank),
    detached: ``index [B]``, ``values [B, ...]`` -> ``[W * B]``, ``[W * B, ...]``."""
    return gather(index.detach()), gather(values.detach())


def broadcast_from_first(*tensors: Tensor) -> None:
    """In place, every tensor takes rank 0's value (nothing happens on a single process).

    Every rank re-clusters the same replicated bank with the same seed, so the results agree;
    broadcasting rank 0's copy makes that exact whatever the hardware's reduction order.
    """
    if is_distributed():
        for tensor in tensors:
            dist.broadcast(tensor, src=0)

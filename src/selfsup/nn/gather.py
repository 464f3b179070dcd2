"""The one autograd-aware ``all_gather`` every loss uses for cross-process negatives/statistics.

Why a custom autograd function
------------------------------
Contrastive losses (negatives) and redundancy-reduction losses (batch statistics) must see
the *global* batch, so each rank gathers the embeddings of all ranks. ``dist.all_gather``
alone returns tensors with no autograd history: the gradient that rank ``r``'s loss sends
to rank ``s``'s embeddings (through the negatives or the statistics) is silently dropped.
That is a recurring bug in SSL code bases — training still runs, but with a wrong gradient.

:func:`gather` keeps the history. Its backward all-reduces (SUM) the gradient of the whole
gathered tensor and returns this rank's slice, so rank ``r`` receives
``sum_s dL_s / dz_r``: the contributions of every rank's loss to its own embeddings.
DistributedDataParallel then *averages* parameter gradients over the ``W`` ranks. With the
sum-reduce backward the two compose to the single-process full-batch gradient:

* a loss averaged over local anchors (NT-Xent): ``L = 1/W sum_s L_s`` and DDP's average
  ``1/W sum_r sum_s dL_s/dz_r`` is exactly ``dL/dtheta``;
* a loss that is a global statistic (Barlow Twins' cross-correlation), identical on every
  rank: ``sum_s dL_s/dz_r = W dL/dz_r`` and DDP's ``1/W`` cancels the ``W``.

``tests/nn/test_distributed_losses.py`` checks both cases against one process with the
full batch, and checks that a plain ``all_gather`` does *not* pass.

PyTorch ships ``torch.distributed.nn.functional.all_gather`` with an equivalent backward;
we keep one small function of our own so its contract (equal batch sizes, rank order, a
no-op when not distributed, a clear error) is stated and tested here.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    """True when a process group with more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes in the default group (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's rank in the default group (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def _check_equal_shapes(x: Tensor) -> None:
    # all_gather needs identical shapes on every rank; with mismatched sizes some backends
    # hang or return garbage, and the rank-offset arithmetic of the losses would be wrong.
    # One tiny extra collective buys a clear error instead.
    shape = torch.tensor(list(x.shape), dtype=torch.long, device=x.device)
    shapes = [torch.empty_like(shape) for _ in range(dist.get_world_size())]
    dist.all_gather(shapes, shape)
    if any(not torch.equal(s, shapes[0]) for s in shapes):
        found = ", ".join(f"rank {r}: {tuple(s.tolist())}" for r, s in enumerate(shapes))
        raise ValueError(
            "gather() needs the same tensor shape on every process (equal per-rank batch "
            f"sizes); got {found}. Use drop_last=True in the distributed sampler/loader."
        )


class _GatherWithGrad(torch.autograd.Function):
    """all_gather along dim 0; backward = all_reduce(SUM) then this rank's slice."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        x = x.contiguous()
        _check_equal_shapes(x)
        ctx.batch_size = x.shape[0]
        ctx.rank = dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        # Each rank holds dL_rank / d(gathered); summing over ranks gives, for this rank's
        # rows, the gradient of the sum of all ranks' losses (see module docstring).
        grad = grad_output.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.batch_size
        return grad[start : start + ctx.batch_size]


def gather(x: Tensor) -> Tensor:
    """Concatenate ``x`` from all processes along dim 0, in rank order, keeping gradients.

    Args:
        x: ``[B, ...]``, the same shape on every process.

    Returns:
        ``[W * B, ...]`` where rows ``r * B : (r + 1) * B`` come from rank ``r``; ``x`` itself
        (same object) when not running distributed.

    Raises:
        ValueError: if the shapes differ between processes.
    """
    if not is_distributed():
        return x
    return _GatherWithGrad.apply(x)

r"""Sinkhorn–Knopp: soft assignment of samples to clusters under an equal-partition constraint.

SwAV (Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster
Assignments", Section 3.1, eq. 3–5) and SeLa (Asano, Rupprecht, Vedaldi 2020, "Self-labelling
via simultaneous clustering and representation learning", Section 3.1, eq. 6–7) both assign
:math:`B` samples to :math:`K` clusters by the entropy-regularised optimal transport problem

.. math::
    \max_{P \in \mathcal{U}} \operatorname{Tr}(P^\top S) + \varepsilon H(P), \qquad
    \mathcal{U} = \{P \in \mathbb{R}_+^{B \times K} :
                    P \mathbf{1}_K = \tfrac{1}{B} \mathbf{1}_B,\;
                    P^\top \mathbf{1}_B = \tfrac{1}{K} \mathbf{1}_K\}

(every sample carries mass :math:`1/B`, every cluster receives :math:`1/K`: an equipartition),
whose solution is :math:`P = \operatorname{diag}(u)\, \exp(S/\varepsilon)\,\operatorname{diag}(v)`.
Sinkhorn–Knopp finds the scalings by alternately normalising the cluster marginals and the
sample marginals. SwAV's scores :math:`S` are prototype similarities with
:math:`\varepsilon = 0.05`; SeLa's are log-probabilities :math:`\log P_{yi}` with
:math:`\varepsilon = 1/\lambda` (its :math:`P^\lambda`).

Implementation notes:

* Log domain. ``exp(S / eps)`` overflows or underflows in float32 for SeLa's
  :math:`\lambda = 25` on log-probabilities; the normalisations are done as ``logsumexp``
  subtractions instead, which is the same algorithm, stable for any scale.
* Distributed. A cluster marginal sums over the *global* batch: with ``W`` processes each
  holding some rows, the per-cluster ``logsumexp`` over samples is all-reduced (max, then sum
  of exponentials), and so is the sample count :math:`B`. The sample marginal is per row and
  needs nothing. So ``W`` processes give exactly the single-process result on all rows
  (ranks may hold different numbers of rows). No gradient: codes are targets.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import Tensor

from selfsup.nn.gather import is_distributed


def _all_reduce(x: Tensor, op: dist.ReduceOp.RedOpType, distributed: bool) -> Tensor:
    if distributed:
        dist.all_reduce(x, op=op)
    return x


def _global_logsumexp_over_rows(log_q: Tensor, distributed: bool) -> Tensor:
    """``log sum_b exp(log_q[b, k])`` over the rows of every process, ``[1, K]``."""
    peak = log_q.amax(dim=0, keepdim=True)
    peak = _all_reduce(peak, dist.ReduceOp.MAX, distributed)
    # A cluster with -inf everywhere would give nan; treat its peak as 0 (its sum is then 0).
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    total = (log_q - peak).exp().sum(dim=0, keepdim=True)
    total = _all_reduce(total, dist.ReduceOp.SUM, distributed)
    return total.log() + peak


@torch.no_grad()
def sinkhorn(
    scores: Tensor,
    epsilon: float = 0.05,
    iterations: int = 3,
    tolerance: float | None = None,
    distributed: bool | None = None,
) -> Tensor:
    r"""Equal-partition soft assignment of the rows of ``scores`` to its columns.

    Runs ``iterations`` Sinkhorn–Knopp steps on :math:`\exp(S/\varepsilon)`, each normalising
    first the cluster marginals to :math:`1/K`, then the sample marginals to :math:`1/B`
    (the order of SwAV's ``distributed_sinkhorn`` and SeLa's ``optimize_L_sk``). The step
    ending every iteration makes each sample's mass exactly :math:`1/B`; the cluster masses
    approach :math:`1/K` as iterations grow (3 are SwAV's default; SeLa iterates to
    convergence, which ``tolerance`` gives).

    Final scaling: the plan :math:`P` is multiplied by :math:`B` (the global number of rows),
    as in SwAV, so each returned row is a probability distribution over the ``K`` clusters
    (sums to 1) and each column sums to :math:`B/K` at convergence.

    Args:
        scores: ``[B, K]`` this process's rows (no gradient is taken).
        epsilon: entropy weight :math:`\varepsilon` (SwAV 0.05; SeLa :math:`1/\lambda`).
        iterations: maximum number of Sinkhorn steps (≥ 1).
        tolerance: if given, stop early once every cluster mass is within ``tolerance``
            (relative) of :math:`1/K`: :math:`\max_k |K \sum_b P_{bk} - 1| \le` ``tolerance``.
        distributed: sum the cluster marginals and ``B`` over all processes; ``None`` (the
            default) means "when a process group is running". Pass ``False`` when every
            process holds the same rows (a replicated memory bank).

    Returns:
        ``[B, K]`` codes, float32 (float64 if ``scores`` is), rows summing to 1.

    Example:
        >>> codes = sinkhorn(torch.randn(8, 4), epsilon=0.05, iterations=3)
        >>> codes.sum(dim=1)  # tensor([1., 1., ...])
    """
    if scores.dim() != 2 or scores.shape[1] < 1:
        raise ValueError(f"sinkhorn expects scores of shape [B, K], got {tuple(scores.shape)}")
    if not epsilon > 0:
        raise ValueError(f"sinkhorn epsilon must be > 0, got {epsilon}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"sinkhorn iterations must be an integer >= 1, got {iterations!r}")
    if distributed is None:
        distributed = is_distributed()
    dtype = torch.float64 if scores.dtype == torch.float64 else torch.float32
    log_q = scores.detach().to(dtype) / epsilon  # [B, K]
    num_clusters = scores.shape[1]
    num_rows = torch.tensor(float(scores.shape[0]), dtype=dtype, device=scores.device)
    num_rows = _all_reduce(num_rows, dist.ReduceOp.SUM, distributed)
    log_k, log_b = math.log(num_clusters), torch.log(num_rows)
    for _ in range(iterations):
        # Cluster marginals (sums over the global batch) := 1/K.
        log_q = log_q - _global_logsumexp_over_rows(log_q, distributed) - log_k
        # Sample marginals (per row, local) := 1/B.
        log_q = log_q - torch.logsumexp(log_q, dim=1, keepdim=True) - log_b
        if tolerance is not None:
            cluster_mass = _global_logsumexp_over_rows(log_q, distributed).exp()
            if float((cluster_mass * num_clusters - 1).abs().max()) <= tolerance:
                break
    return (log_q + log_b).exp()


@torch.no_grad()
def equipartition_labels(
    log_probs: Tensor,
    lam: float = 25.0,
    iterations: int = 1000,
    tolerance: float = 1e-3,
) -> Tensor:
    r"""SeLa's label assignment: hard labels that split the data set equally among clusters.

    Asano et al. 2020, Section 3.1: with :math:`P_{yi} = p(y \mid x_i)` the model's
    probabilities, the labels :math:`Q` maximise :math:`\langle Q, \log P \rangle` over the
    equipartition polytope, relaxed with an entropy term of weight :math:`1/\lambda`; the
    solution is :math:`Q = \operatorname{diag}(\alpha) P^\lambda \operatorname{diag}(\beta)`
    (eq. 7), found by Sinkhorn–Knopp to convergence.

    Rounding: the official code takes each sample's argmax of :math:`Q`, which splits the data
    only *nearly* equally. Here the rounding keeps the hard constraint of eq. 4 exactly: each
    cluster holds :math:`\lfloor N/K \rfloor` or :math:`\lceil N/K \rceil` samples
    (:func:`round_to_equipartition`); a sample leaves its argmax only when that cluster is
    full of samples with a larger :math:`Q` for it, and then takes its best cluster with room.

    Not distributed: the input is the whole (replicated) data set.

    Args:
        log_probs: ``[N, K]`` log-probabilities (any per-row constant is irrelevant).
        lam: :math:`\lambda` (25, the official code's default ``--lamb``).
        iterations: maximum number of Sinkhorn steps.
        tolerance: relative error allowed on the cluster masses.

    Returns:
        ``[N]`` long labels in ``[0, K)``.
    """
    if not lam > 0:
        raise ValueError(f"SeLa lambda must be > 0, got {lam}")
    codes = sinkhorn(log_probs, epsilon=1.0 / lam, iterations=iterations,
                     tolerance=tolerance, distributed=False)
    return round_to_equipartition(codes)


@torch.no_grad()
def round_to_equipartition(plan: Tensor) -> Tensor:
    """Hard labels from a soft plan ``[N, K]`` with cluster sizes ``floor(N/K)`` or ``ceil(N/K)``.

    Greedy by confidence: in each round every unlabelled sample proposes its best cluster
    that still has room; each cluster accepts its most confident proposals up to its room.
    Every round fills a cluster or labels everyone, so there are at most ``K`` rounds (one or
    two when the plan is already balanced, as Sinkhorn's is).

    Returns:
        ``[N]`` long labels.
    """
    n, k = plan.shape
    room = torch.full((k,), n // k, dtype=torch.long, device=plan.device)
    room[: n % k] += 1
    labels = torch.full((n,), -1, dtype=torch.long, device=plan.device)
    while True:
        open_rows = (labels < 0).nonzero().squeeze(1)
        if open_rows.numel() == 0:
            return labels
        candidates = plan[open_rows].masked_fill(room.eq(0).unsqueeze(0), float("-inf"))
        confidence, best = candidates.max(dim=1)
        # Rank each proposal within its cluster by confidence (two stable sorts).
        order = torch.sort(confidence, descending=True, stable=True).indices
        order = order[torch.sort(best[order], stable=True).indices]
        sorted_best = best[order]
        group_start = torch.searchsorted(sorted_best, sorted_best, right=False)
        rank_in_group = torch.arange(order.numel(), device=plan.device) - group_start
        accepted = order[rank_in_group < room[sorted_best]]
        labels[open_rows[accepted]] = best[accepted]
        room -= torch.bincount(best[accepted], minlength=k)

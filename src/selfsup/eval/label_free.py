"""Scores of an embedding that need no labels: rank, spread, alignment and uniformity.

They let a run be monitored (and dimensional or complete collapse caught) on unlabeled data:

- :func:`rankme` — effective rank of the embedding matrix (Garrido et al. 2023).
- :func:`alpha_req` — power-law decay coefficient of the covariance eigenspectrum (Agrawal et
  al. 2022).
- :func:`embedding_std` / :func:`collapse_ratio` — per-dimension spread of the normalised
  embeddings, the collapse monitor of SimSiam (Chen & He 2021, Sec. 4.1).
- :func:`alignment` / :func:`uniformity` — the two properties of contrastive representations
  of Wang & Isola 2020.

All functions accept numpy arrays or torch tensors ``[N, D]`` and return a Python float.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from selfsup.errors import SelfsupError
from selfsup.eval.knn import as_embeddings

# Rows per block of the Gram and pairwise-distance computations (bounded memory).
_ROW_CHUNK = 4096


def _singular_values(emb: torch.Tensor) -> torch.Tensor:
    """Singular values of ``emb: [N, D]`` via the smaller Gram matrix, accumulated in float64.

    Eigenvalues of ``EᵀE`` (or ``EEᵀ`` when N < D) are the squared singular values. Building
    the Gram matrix chunk by chunk keeps memory at ``min(N, D)²`` instead of a full float64
    copy of ``emb`` that an SVD would need; the float64 accumulation keeps the small singular
    values accurate to ~1e-8 of the largest, far below what changes the entropy.
    """
    if emb.shape[0] < emb.shape[1]:
        gram = emb.double() @ emb.double().T
    else:
        gram = torch.zeros(emb.shape[1], emb.shape[1], dtype=torch.float64, device=emb.device)
        for start in range(0, emb.shape[0], _ROW_CHUNK):
            block = emb[start : start + _ROW_CHUNK].double()
            gram += block.T @ block
    return torch.linalg.eigvalsh(gram).clamp_min(0).sqrt()


def rankme(emb: Any, eps: float = 1e-7) -> float:
    """RankMe effective rank of an embedding matrix (Garrido et al. 2023, ICML, Eq. 1).

    With ``σ_1 ≥ … ≥ σ_K`` the singular values of ``emb`` (``K = min(N, D)``)::

        p_k = σ_k / ‖σ‖₁ + ε
        RankMe(emb) = exp( -Σ_k p_k log p_k )

    It ranges from ~1 (every embedding on one line: complete collapse) to ``K`` (all
    directions used equally). Garrido et al. show it tracks downstream accuracy without
    labels; it needs ``N`` comfortably above ``D`` (they use 25 600 samples) to reach ``D``.
    The embeddings are not centred, as in the paper.

    Args:
        emb: ``[N, D]`` embeddings.
        eps: ε of the formula, keeps ``log p_k`` finite for zero singular values.

    Returns:
        The effective rank, a float in ``[~1, min(N, D)]``.
    """
    sigma = _singular_values(as_embeddings(emb, "emb"))
    # An all-zero matrix has ‖σ‖₁ = 0; clamping gives p_k = ε, i.e. RankMe ≈ 1 (collapsed).
    p = sigma / sigma.sum().clamp_min(torch.finfo(torch.float64).tiny) + eps
    return float(torch.exp(-(p * p.log()).sum()))


def alpha_req(emb: Any, fit_range: tuple[float, float] = (0.0, 1.0), floor: float = 1e-8) -> float:
    """α-ReQ: decay coefficient of the eigenspectrum (Agrawal et al. 2022, NeurIPS, Sec. 3).

    The eigenvalues ``λ_1 ≥ … ≥ λ_K`` of the feature covariance ``Cov(emb)`` of well-trained
    networks follow a power law ``λ_k ∝ k^{-α}``; ``α`` is the slope of the least-squares line
    through ``(log k, -log λ_k)``. The paper finds downstream linear accuracy best inside an
    interval of ``α`` near 1: smaller α means a flat, white spectrum (noise-like features), larger
    α a spectrum dominated by few directions (collapse). For model selection the library scores
    ``-|α - 1|`` (:func:`alpha_req_score`); the paper's own selection rule is a task-dependent
    interval, which without labels has to be assumed.

    Args:
        emb: ``[N, D]`` embeddings, ``N ≥ 2``.
        fit_range: fraction of the ranked eigenvalues to fit, e.g. ``(0.0, 0.5)`` fits the
            first half (the paper fits the full range of its well-resolved spectra; the tail
            of a spectrum estimated from few samples is noise).
        floor: eigenvalues below ``floor × λ_1`` are numerically zero and left out of the fit.

    Returns:
        ``α`` (0 for a perfectly white spectrum); ``nan`` when fewer than two eigenvalues remain.
    """
    matrix = as_embeddings(emb, "emb", min_rows=2).double()
    matrix = matrix - matrix.mean(dim=0, keepdim=True)
    # Eigenvalues of the covariance are the squared singular values over N - 1.
    eigenvalues = _singular_values(matrix).pow(2).flip(0) / (matrix.shape[0] - 1)
    eigenvalues = eigenvalues[eigenvalues > floor * eigenvalues[0].clamp_min(1e-300)]
    lo, hi = (int(round(f * len(eigenvalues))) for f in fit_range)
    eigenvalues = eigenvalues[lo:hi]
    if len(eigenvalues) < 2:
        return math.nan
    ranks = torch.arange(lo + 1, lo + 1 + len(eigenvalues), dtype=torch.float64, device=matrix.device)
    x, y = ranks.log(), eigenvalues.log()
    slope = ((x - x.mean()) * (y - y.mean())).sum() / (x - x.mean()).pow(2).sum()
    return float(-slope)


def alpha_req_score(emb: Any) -> float:
    """``-|α - 1|``: higher is better, for label-free model selection with :func:`alpha_req`."""
    return -abs(alpha_req(emb) - 1.0)


def embedding_std(emb: Any) -> float:
    """Mean over dimensions of the std of the L2-normalised embeddings (SimSiam's monitor).

    With ``ẑ_i = z_i / ‖z_i‖₂``::

        std(emb) = (1/D) Σ_d  std_i( ẑ_{i,d} )

    Chen & He 2021 ("Exploring Simple Siamese Representation Learning", Sec. 4.1) note that if
    ``ẑ`` were isotropic Gaussian, ``std ≈ 1/√D``; a collapsed encoder (every input mapped to
    the same vector) gives 0. The population std (no Bessel correction) is used, so a single
    embedding gives 0 rather than NaN.

    Args:
        emb: ``[N, D]`` embeddings.

    Returns:
        The mean std, in ``[0, 1/√D]`` (up to sampling noise).
    """
    normalised = F.normalize(as_embeddings(emb, "emb"), dim=1)
    return float(normalised.std(dim=0, correction=0).mean())


def collapse_ratio(emb: Any) -> float:
    """:func:`embedding_std` divided by its healthy reference ``1/√D``: ``std · √D``.

    Near 1 the normalised embeddings spread over all ``D`` directions like an isotropic
    Gaussian; near 0 the encoder has collapsed to a constant. Values in between indicate that
    only some directions carry variance (dimensional collapse).

    Args:
        emb: ``[N, D]`` embeddings.
    """
    tensor = as_embeddings(emb, "emb")
    return embedding_std(tensor) * math.sqrt(tensor.shape[1])


def alignment(z1: Any, z2: Any, alpha: float = 2.0) -> float:
    """Alignment loss of Wang & Isola 2020 (ICML, Eq. 2): how close positive pairs lie.

    With ``f(x)`` the L2-normalised embedding of a view and ``(x, y)`` a positive pair::

        L_align = E_{(x, y)} ‖f(x) - f(y)‖₂^α

    0 for identical views; the maximum is ``2^α`` (antipodal views). Lower is better.

    Args:
        z1: ``[N, D]`` embeddings of the first views.
        z2: ``[N, D]`` embeddings of the second views (row ``i`` pairs with row ``i`` of z1).
        alpha: exponent α (the paper uses 2).
    """
    a = as_embeddings(z1, "z1")
    b = as_embeddings(z2, "z2").to(device=a.device, dtype=a.dtype)
    if a.shape != b.shape:
        raise SelfsupError(
            f"alignment needs two views of the same samples; got shapes {tuple(a.shape)} "
            f"and {tuple(b.shape)}."
        )
    distance = (F.normalize(a, dim=1) - F.normalize(b, dim=1)).norm(dim=1)
    return float(distance.pow(alpha).mean())


def uniformity(z: Any, t: float = 2.0, max_samples: int | None = None) -> float:
    """Uniformity loss of Wang & Isola 2020 (ICML, Eq. 3): how evenly embeddings cover the sphere.

    With ``f(x)`` the L2-normalised embedding, over all pairs of distinct samples::

        L_uniform = log E_{x ≠ y} exp(-t ‖f(x) - f(y)‖₂²)

    It lies in ``[-4t, 0]``: 0 when every embedding is the same point, lower is more uniform.
    Computed row-block by row-block with a log-sum-exp, so memory stays bounded and the
    result is exact (no underflow of ``exp``).

    Args:
        z: ``[N, D]`` embeddings, ``N ≥ 2``.
        t: temperature of the Gaussian potential (the paper uses 2).
        max_samples: if set and ``N`` is larger, score a fixed random subset of this many rows
            (seeded, so deterministic): the cost is ``O(N² D)``.
    """
    emb = as_embeddings(z, "z", min_rows=2)
    if max_samples is not None and emb.shape[0] > max_samples:
        generator = torch.Generator().manual_seed(0)
        emb = emb[torch.randperm(emb.shape[0], generator=generator)[:max_samples].to(emb.device)]
    normalised = F.normalize(emb, dim=1)
    n = normalised.shape[0]
    block_lse = []
    for start in range(0, n, _ROW_CHUNK):
        block = normalised[start : start + _ROW_CHUNK]
        # For unit vectors ‖a - b‖² = 2 - 2 a·b; clamping removes tiny negative round-off.
        sq_dist = (2 - 2 * block @ normalised.T).clamp_min(0).double()
        rows = torch.arange(block.shape[0], device=block.device)
        log_kernel = -t * sq_dist
        log_kernel[rows, rows + start] = -math.inf  # exclude the x = y pairs
        block_lse.append(torch.logsumexp(log_kernel.flatten(), dim=0))
    return float(torch.logsumexp(torch.stack(block_lse), dim=0) - math.log(n * (n - 1)))

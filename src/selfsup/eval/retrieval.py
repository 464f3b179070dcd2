"""Paired retrieval: how often the partner of a text is among the nearest texts of the other side
(Recall@k), the label-free score of aligned translations (``bible_verses``)."""

from __future__ import annotations

import torch

#: rows of the similarity matrix computed at once (memory: CHUNK × N floats)
CHUNK = 1024


def partner_ranks(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """``[N]`` the rank of ``keys[i]`` among all keys by cosine similarity to ``queries[i]`` (0 =
    nearest); ties count against the partner, so an encoder that maps every text to the same
    vector ranks every partner last, not first.

    queries, keys: ``[N, D]``, row ``i`` of each a pair."""
    if queries.shape != keys.shape:
        raise ValueError(f"queries {tuple(queries.shape)} and keys {tuple(keys.shape)} must pair row by row")
    q = torch.nn.functional.normalize(queries.double(), dim=1)
    k = torch.nn.functional.normalize(keys.double(), dim=1)
    ranks = []
    for start in range(0, len(q), CHUNK):
        similarity = q[start:start + CHUNK] @ k.T  # [C, N]
        rows = torch.arange(similarity.shape[0])
        own = similarity[rows, rows + start]
        # every other key at least as similar as the partner is ranked before it
        ranks.append((similarity >= own[:, None]).sum(1) - 1)
    return torch.cat(ranks) if ranks else torch.zeros(0, dtype=torch.long)


def recall_at(queries: torch.Tensor, keys: torch.Tensor, ks: tuple[int, ...] = (1, 10)) -> dict[int, float]:
    """``{k: share of queries whose partner key is among their k nearest keys}``."""
    ranks = partner_ranks(queries, keys)
    return {k: float((ranks < k).double().mean()) if len(ranks) else float("nan") for k in ks}


def fit_whitening(embeddings: torch.Tensor, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean [D], W [D, D])`` such that ``(z - mean) @ W`` has identity covariance over
    ``embeddings [N, D]``: BERT-whitening (Su, Cao, Liu, Ou 2021, "Whitening Sentence
    Representations for Better Semantics and Faster Retrieval", Eq. 4-6: ``W = U Λ^{-1/2}`` from
    the eigendecomposition ``Σ = U Λ Uᵀ``). Directions of variance below ``eps`` times the largest
    are dropped (their columns are zero), so a rank-deficient set whitens what it spans.

    Why: the cosine of raw embeddings is dominated by a few directions they all share
    (anisotropy; Ethayarajh 2019, Li et al. 2020), markedly so after masked language modelling;
    whitened, each direction counts alike, and retrieval does not depend on the basis."""
    z = embeddings.double()
    mean = z.mean(dim=0)
    values, vectors = torch.linalg.eigh(torch.cov((z - mean).T).reshape(z.shape[1], z.shape[1]))
    keep = values > eps * values.max().clamp_min(torch.finfo(torch.float64).tiny)
    scale = torch.where(keep, values.clamp_min(torch.finfo(torch.float64).tiny).rsqrt(), 0.0)
    return mean.to(embeddings.dtype), (vectors * scale).to(embeddings.dtype)

"""Token masks for masked modelling and latent prediction, on any 1-D or 2-D token grid.

Masks are drawn for a whole batch at once, on the batch's device, from the global torch RNG
(which the engine reseeds per step, so resumed runs draw the same masks). They work on
token indices only — which token holds what is the token encoder's business
(:mod:`selfsup.encoders.tokens`) — so the same code masks image patches, feature tokens of
a table or patches of a time series.

* :func:`random_token_mask`: MAE's per-sample uniform masking (He et al. 2022, Section 3,
  "Masking").
* :func:`sample_block_size`, :func:`block_mask` and :func:`jepa_masks`: I-JEPA's multi-block
  masking (Assran et al. 2023, Section 3 and Appendix C, the ``MaskCollator`` of the paper's
  code): ``M`` target blocks and one large context block with the targets removed. On a 1-D
  grid a block is a contiguous span and the aspect ratio is ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def random_token_mask(
    batch_size: int, num_tokens: int, mask_ratio: float, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mask ``int(num_tokens * mask_ratio)`` tokens uniformly at random, independently per sample.

    As MAE: shuffle the token indices by sorting uniform noise, keep the first
    ``K = num_tokens - int(num_tokens * mask_ratio)``.

    Returns:
        ``keep_index [B, K]`` (visible tokens, ascending), ``mask_index [B, N - K]`` (masked
        tokens, ascending), ``mask`` bool ``[B, N]`` (True = masked).
    """
    num_masked = int(num_tokens * mask_ratio)
    num_keep = num_tokens - num_masked
    if num_masked < 1 or num_keep < 1:
        raise ValueError(
            f"mask_ratio {mask_ratio} of {num_tokens} tokens masks {num_masked} and keeps "
            f"{num_keep}; both must be at least 1. Choose a ratio in "
            f"[{1 / num_tokens:.3g}, {1 - 1 / num_tokens:.3g}]."
        )
    noise = torch.rand(batch_size, num_tokens, device=device)
    shuffle = noise.argsort(dim=1)
    keep_index = shuffle[:, :num_keep].sort(dim=1).values
    mask_index = shuffle[:, num_keep:].sort(dim=1).values
    mask = torch.ones(batch_size, num_tokens, dtype=torch.bool, device=noise.device)
    mask.scatter_(1, keep_index, False)
    return keep_index, mask_index, mask


def sample_block_size(
    grid: Sequence[int], scale: Sequence[float], aspect_ratio: Sequence[float]
) -> tuple[int, int]:
    """Height and width ``(h, w)`` of a block covering a random fraction ``scale`` of the grid.

    2-D grids ``(gh, gw)``: as I-JEPA's ``_sample_block_size``, ``s ~ U(scale)``,
    ``r ~ U(aspect_ratio)``, ``n = int(s * N)``, ``h = round(sqrt(n r))``, ``w = round(sqrt(n / r))``,
    each clipped to ``[1, side]``. 1-D grids ``(n,)`` (treated as ``(1, n)``): a span of
    ``max(1, round(s * n))`` tokens; the aspect ratio does not apply.
    """
    s = float(torch.empty(()).uniform_(*scale))
    if len(grid) == 1:
        return 1, min(int(grid[0]), max(1, round(s * grid[0])))
    gh, gw = int(grid[0]), int(grid[1])
    r = float(torch.empty(()).uniform_(*aspect_ratio))
    n = int(s * gh * gw)
    h = min(gh, max(1, round(math.sqrt(n * r))))
    w = min(gw, max(1, round(math.sqrt(n / r))))
    return h, w


def block_mask(
    batch_size: int, grid: Sequence[int], size: tuple[int, int], device: torch.device | str | None = None
) -> torch.Tensor:
    """One ``h x w`` block per sample at a uniformly random position: bool ``[B, N]``, row-major.

    ``grid`` is ``(gh, gw)`` or ``(n,)`` (then ``size`` is ``(1, length)``).
    """
    gh, gw = (1, int(grid[0])) if len(grid) == 1 else (int(grid[0]), int(grid[1]))
    h, w = size
    top = torch.randint(0, gh - h + 1, (batch_size, 1), device=device)
    left = torch.randint(0, gw - w + 1, (batch_size, 1), device=device)
    rows = torch.arange(gh, device=device)[None]
    cols = torch.arange(gw, device=device)[None]
    in_rows = (rows >= top) & (rows < top + h)  # [B, gh]
    in_cols = (cols >= left) & (cols < left + w)  # [B, gw]
    return (in_rows[:, :, None] & in_cols[:, None, :]).reshape(batch_size, gh * gw)


def _pick(mask: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` random True positions of each row of ``mask [B, N]``, ascending: ``[B, count]``."""
    score = torch.rand(mask.shape, device=mask.device).masked_fill(~mask, -1.0)
    return score.topk(count, dim=1).indices.sort(dim=1).values


def jepa_masks(
    batch_size: int,
    grid: Sequence[int],
    num_targets: int = 4,
    target_scale: Sequence[float] = (0.15, 0.2),
    target_aspect_ratio: Sequence[float] = (0.75, 1.5),
    context_scale: Sequence[float] = (0.85, 1.0),
    device: torch.device | str | None = None,
    max_tries: int = 20,
) -> tuple[torch.Tensor, torch.Tensor]:
    """I-JEPA's multi-block masks: ``context_index [B, K]`` and ``target_index [M, B, T]``.

    As in the paper's ``MaskCollator``: one target block size and one context block size are
    drawn per batch (so every sample has the same number of target tokens ``T``); each sample
    gets ``M`` target blocks and one context block (aspect ratio 1) at random positions; the
    target tokens are removed from the context (no overlap). Context sizes then differ per
    sample, and all are cut to the smallest one ``K`` so that they stack; the paper keeps the
    first ``K`` indices, here ``K`` random ones are kept so the cut favours no grid region.
    Samples whose context would be empty are redrawn (up to ``max_tries`` times).

    Returns:
        ``context_index [B, K]`` (ascending), ``target_index [M, B, T]`` (each block ascending).
    """
    num_tokens = math.prod(int(g) for g in grid)
    target_size = sample_block_size(grid, target_scale, target_aspect_ratio)
    context_size = sample_block_size(grid, context_scale, (1.0, 1.0))
    targets = torch.stack(
        [block_mask(batch_size, grid, target_size, device) for _ in range(num_targets)]
    )  # [M, B, N]
    context = block_mask(batch_size, grid, context_size, device) & ~targets.any(0)
    for _ in range(max_tries):
        empty = context.sum(1) == 0
        if not empty.any():
            break
        n = int(empty.sum())
        redraw = torch.stack([block_mask(n, grid, target_size, device) for _ in range(num_targets)])
        targets[:, empty] = redraw
        context[empty] = block_mask(n, grid, context_size, device) & ~redraw.any(0)
    else:
        raise ValueError(
            f"I-JEPA masks: {num_targets} target blocks of {target_size} tokens leave no context "
            f"on a token grid {tuple(grid)} ({num_tokens} tokens); lower num_targets or target_scale."
        )
    num_context = int(context.sum(1).min())
    context_index = _pick(context, num_context)
    # every block has exactly h * w tokens; nonzero lists them row by row, ascending
    block_tokens = target_size[0] * target_size[1]
    target_index = targets.nonzero()[:, 2].reshape(num_targets, batch_size, block_tokens)
    return context_index, target_index

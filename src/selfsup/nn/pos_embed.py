"""Fixed sin-cos position embeddings for 1-D and 2-D token grids.

The Transformer's sinusoidal encoding (Vaswani et al. 2017, Section 3.5) per axis, as MAE
(He et al. 2022) and I-JEPA (Assran et al. 2023) use it for the encoder, the decoder and the
predictor. Tokens are numbered row-major over the grid, the order every token encoder of
:mod:`selfsup.encoders.tokens` uses, so a table row ``i`` belongs to token ``i``.

Example:
    >>> table = sincos_pos_embed(64, (4, 4))   # 16 image patches -> [16, 64]
    >>> table = sincos_pos_embed(64, (10,))    # 10 sequence patches -> [10, 64]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from selfsup.errors import SelfsupError


def _sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """``[len(positions), dim]``: sin at ``dim / 2`` frequencies ``1 / 10000**(k / (dim / 2))``,
    then cos at the same frequencies."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim // 2))
    angle = positions.to(torch.float64)[:, None] * omega[None, :]
    return torch.cat([angle.sin(), angle.cos()], dim=1)


def sincos_pos_embed_1d(dim: int, length: int) -> torch.Tensor:
    """Fixed 1-D sin-cos position embedding ``[length, dim]`` (``dim`` even)."""
    if dim % 2 or dim < 2:
        raise SelfsupError(f"1-D sin-cos position embedding needs an even dim; got {dim}.")
    return _sincos_1d(dim, torch.arange(length)).float()


def sincos_pos_embed_2d(dim: int, grid: Sequence[int]) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding ``[grid_h * grid_w, dim]`` (row-major), as in MAE.

    Half the channels encode the row, half the column; each half is sin/cos at
    ``dim / 4`` frequencies ``1 / 10000**(k / (dim / 4))``.
    """
    if dim % 4 or dim < 4:
        raise SelfsupError(f"Sin-cos position embedding needs dim divisible by 4; got {dim}.")
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    parts = [_sincos_1d(dim // 2, rows.reshape(-1)), _sincos_1d(dim // 2, cols.reshape(-1))]
    return torch.cat(parts, dim=1).float()


def sincos_pos_embed(dim: int, grid: Sequence[int]) -> torch.Tensor:
    """Fixed sin-cos position embedding ``[prod(grid), dim]`` for a ``(n,)`` or ``(h, w)`` grid."""
    grid = tuple(int(g) for g in grid)
    if len(grid) == 1:
        return sincos_pos_embed_1d(dim, grid[0])
    if len(grid) == 2:
        return sincos_pos_embed_2d(dim, grid)
    raise SelfsupError(f"Sin-cos position embeddings cover 1-D or 2-D token grids; got {grid}.")

"""Finite Scalar Quantization: a quantiser with an implicit codebook and no auxiliary loss, with
the interface of :mod:`selfsup.nn.quantizers` (``forward(x) -> Quantized``, ``decode(codes)``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from selfsup.nn.quantizers import Quantized, code_perplexity


class FiniteScalarQuantizer(nn.Module):
    r"""Finite Scalar Quantization (Mentzer, Minnen, Agustsson, Tschannen 2023, "Finite Scalar
    Quantization: VQ-VAE Made Simple", Section 3).

    ``x`` is projected to ``d = len(levels)`` channels (a linear map, skipped when ``D == d``);
    channel ``i`` is bounded to ``L_i`` values by ``f(z) = floor(L_i / 2) tanh(z)`` (shifted by
    a half step when ``L_i`` is even, as the paper's code) and rounded with a straight-through
    gradient, then divided by ``floor(L_i / 2)`` so codes lie in ``[-1, 1]``. The implicit
    codebook has ``prod(L_i)`` entries (``[8, 5, 5, 5]`` gives 1000, the paper's Table 3);
    there is no codebook or auxiliary loss (``aux["loss"]`` is 0). Codes are the mixed-radix
    index ``sum_i (level_i) * prod_{j<i} L_j``.
    """

    def __init__(self, levels: Sequence[int] = (8, 5, 5, 5), dim: int | None = None) -> None:
        super().__init__()
        if not levels or any(isinstance(v, bool) or not isinstance(v, int) or v < 2 for v in levels):
            raise ValueError(f"levels must be integers >= 2, got {list(levels)!r}")
        self.levels = list(levels)
        self.dim = dim or len(levels)
        self.output_dim = self.dim
        self.num_codes = math.prod(self.levels)
        self.register_buffer("_levels", torch.tensor(self.levels, dtype=torch.float32), persistent=False)
        basis = torch.cumprod(torch.tensor([1, *self.levels[:-1]]), dim=0)
        self.register_buffer("_basis", basis, persistent=False)
        project = self.dim != len(levels)
        self.project_in = nn.Linear(self.dim, len(levels)) if project else nn.Identity()
        self.project_out = nn.Linear(len(levels), self.dim) if project else nn.Identity()

    def bound(self, z: Tensor) -> Tensor:
        """``z: [..., d]`` -> a range that rounds to exactly ``L_i`` integers per channel."""
        half = (self._levels - 1) * (1 + 1e-3) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half)
        return torch.tanh(z + shift) * half - offset

    def quantize(self, z: Tensor) -> Tensor:
        """Round :meth:`bound` with a straight-through gradient and normalise to ``[-1, 1]``."""
        bounded = self.bound(z)
        rounded = bounded + (bounded.round() - bounded).detach()
        return rounded / (self._levels // 2)

    def codes_from_values(self, values: Tensor) -> Tensor:
        """Normalised values ``[..., d]`` -> mixed-radix index ``[...]``."""
        shifted = (values * (self._levels // 2) + self._levels // 2).round().long()
        return (shifted * self._basis).sum(-1)

    def decode(self, codes: Tensor) -> Tensor:
        """Index ``[...]`` -> ``[..., D]`` (after the output projection)."""
        digits = (codes[..., None] // self._basis) % self._levels.long()
        return self.project_out((digits - self._levels // 2) / (self._levels // 2))

    def forward(self, x: Tensor) -> Quantized:
        if x.shape[-1] != self.dim:
            raise ValueError(f"FiniteScalarQuantizer expects x[..., {self.dim}], got {tuple(x.shape)}")
        values = self.quantize(self.project_in(x).float())
        codes = self.codes_from_values(values.detach())
        perplexity, usage = code_perplexity(codes, self.num_codes)
        aux = {"loss": x.new_zeros(()), "perplexity": perplexity, "usage": usage}
        return Quantized(self.project_out(values.to(x.dtype)), codes, aux)

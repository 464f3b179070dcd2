"""A patching transformer for time series (PatchTST-style) with the token contract.

The series is cut into non-overlapping patches of ``patch_len`` timestamps; each patch (all
channels) is one token. The encoder implements both contracts of the modality's encoders:

- the **sequence contract** of :mod:`selfsup.modalities.timeseries.encoders.base` (``forward_sequence`` gives
  one latent per patch), so TS2Vec-style and generic methods run on it;
- the **token contract** of :mod:`selfsup.encoders.tokens` with a 1-D grid
  ``token_grid = (n_patches,)`` and raw targets ``patch_len * C`` values per token, so MAE and
  JEPA run on time series without knowing they do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.encoders.base import positive_int
from selfsup.encoders.tokens import TransformerTrunk, gather_tokens, init_linear_weights
from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.encoders.base import SeriesEncoder, series_shape
from selfsup.registry import ENCODERS

__all__ = ["PatchTransformer"]


@ENCODERS.register(
    "patch_transformer",
    modality="timeseries",
    sequence=True,
    tokens=True,
    description="PatchTST-style transformer over non-overlapping patches of the series; "
    "one token per patch (MAE/JEPA ready), mean-pooled",
)
class PatchTransformer(TransformerTrunk, SeriesEncoder):
    r"""Patch transformer (after PatchTST, Nie et al. 2023): ``x [B, T, C] -> [B, dim]``.

    The series (NaN-padded at the end up to ``N = ceil(T / patch_len)`` whole patches) is cut
    into patches :math:`p_n \in \mathbb{R}^{P \cdot C}`, ``P = patch_len`` timestamps of all
    channels (time-major); each is embedded linearly, :math:`e_n = W p_n + b + E_{\mathrm{pos}}[n]`,
    and pre-norm transformer blocks (the ViT blocks of :mod:`selfsup.modalities.image.encoders.vit`) and a final
    LayerNorm follow. Missing timestamps are set to 0; a patch with no observed timestamp is
    *padding*: no token attends to it and pooling skips it, so a NaN-padded series embeds like
    the unpadded one. The pooled output is the mean of the observed patch tokens.

    Shapes: ``forward_tokens(x) -> [B, N, dim]``; ``forward_sequence(x, mask [B, T]) ->
    [B, N, dim]`` (``mask`` zeroes the masked timestamps' *inputs*: the patch projection mixes
    ``P`` timestamps, so no per-timestamp latent exists); ``token_targets(x) -> [B, N, P * C]``
    (missing values as 0).

    Token contract (:mod:`selfsup.encoders.tokens`): ``token_grid = (N,)``, ``token_dim = dim``,
    ``token_target_dim = P * C``; ``keep_index`` selects tokens after the position embedding,
    ``mask`` ``[B, N]`` replaces the masked tokens' content by the method's ``mask_token``.

    Args:
        input_shape: ``(T, C)`` or ``(D, T, C)``. ``T`` fixes ``N``; shorter inputs are padded.
        patch_len: timestamps per patch ``P``.
        dim: token width (= ``output_dim`` = ``sequence_dim``).
        depth: transformer blocks.
        heads: attention heads (``dim`` must be divisible by it).
        mlp_ratio: hidden width of each block's MLP, relative to ``dim``.
        pos_embed: ``"learned"`` or ``"sincos"`` (fixed 1-D sin-cos).
        dropout: dropout inside the blocks.

    Paper defaults vs. library defaults (PatchTST, Section 3.1 and 4):
        * patches: length 16 with stride 8 (supervised), non-overlapping length 12 for
          self-supervised masked pretraining (Section 3.2), over 336-512 timestamps. Library:
          non-overlapping, ``patch_len = 8``, which gives 16-64 tokens on UCR's 128-512-step
          series (the token contract needs non-overlapping tokens with raw targets).
        * channel independence: PatchTST embeds each channel as its own univariate series.
          Library: one token per patch of *all* channels, so a sample is one token grid and
          methods see one sample per series; for ``C = 1`` (UCR) the two agree.
        * 3 layers, 16 heads, width 128, MLP 256, BatchNorm, learned position embedding,
          RevIN instance normalisation. Library: 2 pre-norm LayerNorm blocks (the ViT blocks),
          width 64, 4 heads, MLP ratio 2 (PatchTST's 256 / 128), learned positions, no RevIN
          (UCR/UEA series come z-normalised; normalise others in the data).
        * dropout 0.2 (supervised). Library: 0 for self-supervised pretraining.
    """

    name = "patch_transformer"
    pool = "mean"

    def __init__(
        self,
        input_shape: Sequence[int],
        patch_len: int = 8,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        pos_embed: str = "learned",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        length, self.channels = series_shape(input_shape, self.name)
        for option, value in (("patch_len", patch_len), ("dim", dim), ("depth", depth),
                              ("heads", heads)):
            positive_int(value, option, self.name)
        if dim % heads:
            raise SelfsupError(f"Encoder {self.name!r}: dim {dim} must be divisible by heads "
                               f"{heads}.")
        if pos_embed not in ("learned", "sincos"):
            raise SelfsupError(f"Option pos_embed of encoder {self.name!r} must be 'learned' or "
                               f"'sincos'; got {pos_embed!r}.")
        if not (mlp_ratio > 0 and 0.0 <= dropout < 1.0):
            raise SelfsupError(f"Encoder {self.name!r}: mlp_ratio must be > 0 and dropout in "
                               f"[0, 1); got {mlp_ratio!r}, {dropout!r}.")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.patch_len = patch_len
        self.num_patches = math.ceil(length / patch_len)
        self.length = self.num_patches * patch_len  # the padded length
        self.output_dim = self.sequence_dim = dim
        # the token contract (selfsup.encoders.tokens)
        self.num_tokens = self.num_patches
        self.token_grid: tuple[int, ...] = (self.num_patches,)
        self.token_dim = dim
        self.token_target_dim = patch_len * self.channels

        self.patch_embed = nn.Linear(self.token_target_dim, dim)
        # the same trunk as vit_tiny: pre-norm GELU blocks, final norm
        self._build_trunk(self.token_grid, dim, depth, heads, mlp_ratio, dropout, pos_embed)
        init_linear_weights(self)  # MAE's / ViT's initialisation of linear maps

    def _check_length(self, x: torch.Tensor) -> None:
        if x.shape[1] > self.length:
            raise SelfsupError(
                f"Encoder {self.name!r} was built for series of up to {self.length} timestamps "
                f"({self.num_patches} patches of {self.patch_len}); got {x.shape[1]}. Rebuild "
                "it with the data's input_shape."
            )

    def _pad(self, x: torch.Tensor, observed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad ``x [B, T, C]`` (missing set to 0) with zeros, ``observed [B, T]`` with False."""
        extra = self.length - x.shape[1]
        unobserved = observed.new_zeros(observed.shape[0], extra)
        return F.pad(x, (0, 0, 0, extra)), torch.cat([observed, unobserved], dim=1)

    def _patches(self, x: torch.Tensor, observed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, N * P, C]`` (no NaN) -> ``(patches [B, N, P * C], observed patches [B, N])``."""
        batch = x.shape[0]
        patches = x.reshape(batch, self.num_patches, self.token_target_dim)
        return patches, observed.view(batch, self.num_patches, self.patch_len).any(dim=2)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, T, C]`` -> ``(x [B, N * P, C] with missing as 0, observed [B, N * P])``."""
        x = self.check_input(x)
        if x.dim() != 3:
            raise SelfsupError(f"Encoder {self.name!r}: tokens are defined for one series "
                               f"[B, T, C]; got shape {list(x.shape)}.")
        self._check_length(x)
        observed = ~torch.isnan(x).any(dim=-1)
        return self._pad(x.masked_fill(~observed[..., None], 0.0), observed)

    def _transform(self, tokens: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """Blocks and final norm over embedded ``tokens [B, K, dim]``, ``observed [B, K]``."""
        padding = ~observed
        # a sample whose every token is padding attends to all of them (not to nothing: NaN)
        padding = padding & ~padding.all(dim=1, keepdim=True)
        return self._run_blocks(tokens, padding)

    def encode_sequence(
        self, x: torch.Tensor, observed: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_length(x)
        if mask is not None:
            x = x.masked_fill(mask[..., None], 0.0)
        x, observed = self._pad(x, observed)
        patches, observed_patches = self._patches(x, observed)
        tokens = self._embed_tokens(self.patch_embed(patches))
        return self._transform(tokens, observed_patches), observed_patches

    def forward_tokens(
        self,
        x: torch.Tensor,
        keep_index: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        mask_token: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Patch tokens ``[B, K, dim]`` after the final norm (``K = N`` without ``keep_index``).

        Args:
            x: series ``[B, T, C]``, ``T <= N * P``.
            keep_index: token indices ``[B, K]`` or ``[K]`` to run the blocks on, selected after
                the position embedding (MAE's visible patches, JEPA's context).
            mask: bool ``[B, N]``; True tokens' content is replaced by ``mask_token [dim]``
                (their position embedding is kept).
        """
        x, observed = self._split(x)
        patches, observed_patches = self._patches(x, observed)
        tokens = self._embed_tokens(self.patch_embed(patches), keep_index, mask, mask_token)
        if keep_index is not None:
            observed_patches = gather_tokens(observed_patches[..., None], keep_index)[..., 0]
        return self._transform(tokens, observed_patches)

    def token_targets(self, x: torch.Tensor) -> torch.Tensor:
        """Raw content per token ``[B, N, P * C]``: the patch's values, time-major, NaN as 0."""
        x, observed = self._split(x)
        return self._patches(x, observed)[0]

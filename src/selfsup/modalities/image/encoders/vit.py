"""Vision Transformer encoder with token access for masked modelling and JEPA.

Patches are embedded by a strided convolution, a CLS token is prepended, and pre-norm
transformer blocks (``nn.TransformerEncoderLayer(norm_first=True)``) follow, as in ViT
(Dosovitskiy et al. 2021) with the DeiT-Tiny size (Touvron et al. 2021: dim 192, depth 12,
3 heads). Fixed 2-D sin-cos position embeddings are the default, as in MAE (He et al. 2022)
and I-JEPA (Assran et al. 2023).

The encoder implements the token contract of :mod:`selfsup.encoders.tokens`
(``num_tokens``, ``token_grid``, ``token_dim``, ``token_target_dim``, ``forward_tokens``,
``token_targets``), so MAE and I-JEPA run on it without knowing it sees images:

- ``forward_tokens(x, keep_index)`` runs the blocks only on the kept patches (MAE's encoder
  sees the visible 25 %; I-JEPA's context encoder sees the context block);
- ``forward_tokens(x, mask=..., mask_token=...)`` replaces masked patches by a token the
  *method* owns (SimMIM, iBOT, data2vec), so the encoder holds no parameter that only some
  methods train (an unused parameter breaks DDP);
- ``token_targets`` = ``patchify`` gives per-patch pixel targets ``[B, N, p*p*C]``;
  ``unpatchify`` inverts it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from selfsup.encoders.base import dropout_rate, image_shape, positive_int, positive_number
from selfsup.encoders.tokens import TransformerTrunk, init_linear_weights
from selfsup.errors import SelfsupError
from selfsup.nn.pos_embed import sincos_pos_embed
from selfsup.registry import ENCODERS

__all__ = ["ViTEncoder", "default_patch_size", "sincos_pos_embed"]


def default_patch_size(height: int, width: int) -> int:
    """A patch size giving a sensible grid: 2 up to 16 px, 4 up to 32, 8 below 128, else 16.

    Falls back to the largest smaller power of two (then 1) that divides both sides.
    """
    side = min(height, width)
    target = 2 if side <= 16 else 4 if side <= 32 else 8 if side < 128 else 16
    for p in (target, target // 2, target // 4, target // 8):
        if p >= 1 and height % p == 0 and width % p == 0:
            return p
    return 1


@ENCODERS.register(
    "vit_tiny",
    modality="image",
    tokens=True,
    description="ViT (DeiT-Tiny size: dim 192, depth 12, 3 heads) with token access for MAE/JEPA",
)
class ViTEncoder(TransformerTrunk, nn.Module):
    """Vision Transformer: ``x [B, C, H, W] -> [B, dim]``; tokens ``[B, N, dim]``.

    Args:
        input_shape: ``(C, H, W)``; H and W must be multiples of ``patch_size``.
        patch_size: side of a square patch; default from :func:`default_patch_size`
            (2 for 8×8 digits → 16 tokens, 4 for 32×32 → 64 tokens, 16 for ≥ 128 px).
        dim: token width (= ``output_dim``).
        depth: number of transformer blocks.
        heads: attention heads (``dim`` must be divisible by it).
        mlp_ratio: hidden width of each block's MLP, relative to ``dim``.
        pos_embed: ``"sincos"`` (fixed) or ``"learned"``.
        pool: pooled output from the ``"cls"`` token or the ``"mean"`` of patch tokens.
        dropout: dropout inside the blocks (0 for self-supervised pretraining).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        patch_size: int | None = None,
        dim: int = 192,
        depth: int = 12,
        heads: int = 3,
        mlp_ratio: float = 4.0,
        pos_embed: str = "sincos",
        pool: str = "cls",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        channels, height, width = image_shape(input_shape, "vit_tiny")
        self.input_shape = (channels, height, width)
        # `patch_size or default` would take an explicit 0 for "choose for me"
        self.patch_size = default_patch_size(height, width) if patch_size is None else patch_size
        positive_int(self.patch_size, "patch_size", "vit_tiny")
        for name, value in (("dim", dim), ("depth", depth), ("heads", heads)):
            positive_int(value, name, "vit_tiny")
        positive_number(mlp_ratio, "mlp_ratio", "vit_tiny")
        dropout_rate(dropout, "dropout", "vit_tiny")
        if height % self.patch_size or width % self.patch_size:
            raise SelfsupError(
                f"vit_tiny: image size {height}x{width} is not a multiple of patch_size "
                f"{self.patch_size}. Pass a patch_size dividing both sides, or resize the "
                "images (data option image_size)."
            )
        if dim % heads:
            raise SelfsupError(f"vit_tiny: dim {dim} must be divisible by heads {heads}.")
        if pos_embed not in ("sincos", "learned") or pool not in ("cls", "mean"):
            raise SelfsupError(
                f"vit_tiny: pos_embed must be 'sincos' or 'learned' (got {pos_embed!r}) and "
                f"pool 'cls' or 'mean' (got {pool!r})."
            )
        self.grid_size = (height // self.patch_size, width // self.patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.pool = pool
        self.output_dim = dim
        # the token contract (selfsup.encoders.tokens)
        self.num_tokens = self.num_patches
        self.token_grid: tuple[int, ...] = self.grid_size
        self.token_dim = dim
        self.token_target_dim = self.patch_size * self.patch_size * channels

        self.patch_embed = nn.Conv2d(channels, dim, self.patch_size, stride=self.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self._build_trunk(self.grid_size, dim, depth, heads, mlp_ratio, dropout, pos_embed)
        self._init_weights()

    def _init_weights(self) -> None:
        # MAE's initialisation: xavier for linear maps and the patch projection
        init_linear_weights(self)
        nn.init.xavier_uniform_(self.patch_embed.weight.view(self.output_dim, -1))
        nn.init.zeros_(self.patch_embed.bias)
        nn.init.normal_(self.cls_token, std=0.02)

    def embed_patches(self, x: torch.Tensor) -> torch.Tensor:
        """Patch embeddings plus position embeddings ``[B, N, dim]``, before any block."""
        return self._embed_tokens(self._patch_tokens(x))

    def _patch_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, C, H, W] -> [B, N, dim]``: one embedded patch per token, row-major."""
        return self.patch_embed(x).flatten(2).transpose(1, 2)

    def encode(
        self,
        x: torch.Tensor,
        keep_index: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        mask_token: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the transformer; return ``(cls [B, dim], patches [B, K, dim])`` after the norm.

        Args:
            x: images ``[B, C, H, W]``.
            keep_index: patch indices to keep before the blocks, ``[B, K]`` (per sample) or
                ``[K]`` (shared), in row-major grid order; ``K = N`` when None.
            mask: bool ``[B, N]``, True where the patch is replaced by ``mask_token`` ``[dim]``
                (its position embedding is kept).
        """
        tokens = self._embed_tokens(self._patch_tokens(x), keep_index, mask, mask_token)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        tokens = self._run_blocks(tokens)
        return tokens[:, 0], tokens[:, 1:]

    def forward_tokens(
        self,
        x: torch.Tensor,
        keep_index: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        mask_token: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Patch tokens ``[B, K, dim]`` (``K = N`` without ``keep_index``); see :meth:`encode`."""
        return self.encode(x, keep_index, mask, mask_token)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, C, H, W] -> [B, dim]``: the CLS token, or the mean patch token."""
        cls, patches = self.encode(x)
        return cls if self.pool == "cls" else patches.mean(dim=1)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels per patch: ``[B, C, H, W] -> [B, N, p*p*C]`` (row-major patches, p, p, C)."""
        b, c = x.shape[:2]
        (gh, gw), p = self.grid_size, self.patch_size
        x = x.reshape(b, c, gh, p, gw, p)
        return torch.einsum("bchpwq->bhwpqc", x).reshape(b, gh * gw, p * p * c)

    def token_targets(self, x: torch.Tensor) -> torch.Tensor:
        """The token contract's raw content per token: :meth:`patchify`, ``[B, N, p*p*C]``."""
        return self.patchify(x)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`patchify`: ``[B, N, p*p*C] -> [B, C, H, W]``."""
        b = patches.shape[0]
        (gh, gw), p, c = self.grid_size, self.patch_size, self.input_shape[0]
        x = patches.reshape(b, gh, gw, p, p, c)
        return torch.einsum("bhwpqc->bchpwq", x).reshape(b, c, gh * p, gw * p)

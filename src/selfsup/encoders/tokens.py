"""The token-encoder contract: what masked-modelling and latent-prediction methods need.

MAE, I-JEPA (and SimMIM, iBOT, data2vec …) do not need images; they need an encoder that
cuts its input into ``N`` tokens laid out on a grid, can run on a subset of them, and can say
what raw content each token holds. Any modality can supply that: image patches (``vit_tiny``),
feature tokens of a table (T-JEPA, FT-Transformer), patches of a time series (PatchTST).

A **token encoder** is an ``nn.Module`` mapping ``batch["x"]`` to ``[B, output_dim]`` like every
encoder, with in addition:

``num_tokens: int``
    ``N``, the number of tokens of one sample.
``token_grid: tuple[int, ...]``
    how the tokens are laid out: ``(gh, gw)`` for image patches, ``(n,)`` for a sequence of
    patches; ``prod(token_grid) == num_tokens``. Token ``i`` sits at row-major position ``i``
    of the grid; methods use the grid for position embeddings and block masks.
``token_dim: int``
    width ``D`` of the output tokens.
``token_target_dim: int``
    ``P``, the size of one token's raw content (``p * p * C`` pixels for a ViT patch).
``forward_tokens(x, keep_index=None, mask=None, mask_token=None) -> [B, K, D]``
    the encoder's output tokens (after its final norm), ``K = N`` unless ``keep_index`` is
    given. ``keep_index`` (``[B, K]`` per sample, or ``[K]`` shared; indices into the grid)
    selects the tokens to run the encoder on, *after* their position embedding is added and
    *before* any block, in the given order (MAE's visible patches, I-JEPA's context block).
    ``mask`` (bool ``[B, N]``) replaces the embedded content of the True tokens by the
    method-owned ``mask_token`` ``[D]`` and keeps their position (SimMIM, iBOT, data2vec);
    the encoder owns no mask parameter, so no parameter goes unused (which DDP rejects).
``token_targets(x) -> [B, N, P]``
    the raw input content of every token, in grid order: what MAE reconstructs.

:class:`TokenEncoder` states this as a :class:`typing.Protocol`; :func:`check_token_encoder`
is what a method calls in its constructor to fail early with a clear message.

The built-in transformer token encoders (``vit_tiny``, ``patch_transformer``) share their trunk
through :class:`TransformerTrunk`: position embedding, ViT blocks, final norm, and the order in
which ``forward_tokens`` applies ``mask``, the position embedding and ``keep_index``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.nn.pos_embed import sincos_pos_embed

#: the attributes and methods a token encoder must have
TOKEN_ENCODER_ATTRIBUTES = (
    "num_tokens", "token_grid", "token_dim", "token_target_dim", "forward_tokens", "token_targets",
)


@runtime_checkable
class TokenEncoder(Protocol):
    """Structural type of a token encoder; see the module docstring for the contract."""

    output_dim: int
    num_tokens: int
    token_grid: tuple[int, ...]
    token_dim: int
    token_target_dim: int

    def forward_tokens(
        self,
        x: Any,
        keep_index: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        mask_token: torch.Tensor | None = None,
    ) -> torch.Tensor: ...

    def token_targets(self, x: Any) -> torch.Tensor: ...


def encoder_name(encoder: nn.Module) -> str:
    """The registry name of ``encoder``'s class if it has one, else the class name."""
    from selfsup.registry import ENCODERS

    for name in ENCODERS.names():
        if ENCODERS.get(name) is type(encoder):
            return name
    return type(encoder).__name__


def _token_encoder_names(encoder: nn.Module) -> list[str]:
    """The registered token encoders for ``encoder``'s modality (and the modality-free ones); every
    token encoder when ``encoder`` is not registered or serves any modality."""
    from selfsup.registry import ENCODERS

    tokens = [n for n in ENCODERS.names() if ENCODERS.info(n).tokens]
    name = encoder_name(encoder)
    modality = ENCODERS.info(name).modality if name in ENCODERS.names() else "any"
    same = [n for n in tokens if ENCODERS.info(n).modality in (modality, "any")]
    return same if modality != "any" and same else tokens


def check_token_encoder(encoder: nn.Module, method_name: str) -> nn.Module:
    """Return ``encoder`` if it fulfils the token contract, else raise one clear SelfsupError.

    Example message: ``method 'mae' needs a token encoder such as vit_tiny; small_cnn has no
    forward_tokens``.
    """
    missing = [a for a in TOKEN_ENCODER_ATTRIBUTES if not hasattr(encoder, a)]
    if missing:
        examples = ", ".join(_token_encoder_names(encoder)) or "vit_tiny"
        # forward_tokens is the one a reader recognises; list the rest only when it exists
        lacking = "forward_tokens" if "forward_tokens" in missing else ", ".join(missing)
        raise SelfsupError(
            f"method {method_name!r} needs a token encoder such as {examples}; "
            f"{encoder_name(encoder)} has no {lacking}. Choose a token encoder "
            "(--encoder / encoder.name), or give yours the attributes of "
            "selfsup.encoders.tokens.TokenEncoder."
        )
    grid = tuple(encoder.token_grid)
    if (
        len(grid) not in (1, 2)
        or not all(isinstance(g, int) and g >= 1 for g in grid)
        or math.prod(grid) != encoder.num_tokens
    ):
        raise SelfsupError(
            f"{encoder_name(encoder)}: token_grid must be (n,) or (h, w) positive ints whose "
            f"product is num_tokens = {encoder.num_tokens}; got {encoder.token_grid!r}."
        )
    return encoder


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Select tokens per sample: ``tokens [B, N, D]``, ``index [B, K]`` (or ``[K]``) -> ``[B, K, D]``."""
    index = index.to(tokens.device, torch.long)
    if index.dim() == 1:
        index = index[None].expand(tokens.shape[0], -1)
    return tokens.gather(1, index[..., None].expand(-1, -1, tokens.shape[-1]))


def mask_tokens(
    tokens: torch.Tensor, mask: torch.Tensor | None, mask_token: torch.Tensor | None
) -> torch.Tensor:
    """``tokens [B, N, D]`` with the content of the True tokens of ``mask [B, N]`` replaced by
    ``mask_token [D]`` (the contract's ``mask``); ``tokens`` itself when ``mask`` is None."""
    if mask is None:
        return tokens
    if mask_token is None:
        raise ValueError("mask given without mask_token")
    return torch.where(mask[..., None], mask_token.to(tokens.dtype), tokens)


def transformer_blocks(
    dim: int, depth: int, heads: int, mlp_ratio: float, dropout: float = 0.0
) -> nn.ModuleList:
    """``depth`` pre-norm ViT blocks (GELU MLP of width ``dim * mlp_ratio``, LayerNorm eps
    1e-6), as ViT (Dosovitskiy et al. 2021), MAE and I-JEPA use them."""
    return nn.ModuleList(
        nn.TransformerEncoderLayer(
            dim, heads, int(dim * mlp_ratio), dropout, activation="gelu",
            layer_norm_eps=1e-6, batch_first=True, norm_first=True,
        )
        for _ in range(depth)
    )


def init_linear_weights(module: nn.Module) -> None:
    """MAE's initialisation of every linear map in ``module``: xavier-uniform weights, zero bias."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class TransformerTrunk:
    """Mixin of the transformer token encoders: position embedding, blocks and final norm.

    The encoder embeds its input into tokens ``[B, N, dim]`` its own way (patch convolution,
    linear patch projection); :meth:`_embed_tokens` then applies the token contract in order
    (``mask``, position embedding, ``keep_index``) and :meth:`_run_blocks` runs the blocks and
    the final norm. Sets ``pos_embed`` ``[1, N, dim]``, ``blocks`` and ``norm`` on the encoder,
    so its state dict keeps those names.
    """

    pos_embed: torch.Tensor
    blocks: nn.ModuleList
    norm: nn.LayerNorm

    def _build_trunk(
        self,
        grid: Sequence[int],
        dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float,
        dropout: float,
        pos_embed: str,
    ) -> None:
        """Position embedding (``"sincos"``: fixed, or ``"learned"``), blocks and norm."""
        if pos_embed == "sincos":
            # derived from the shape, not learned: kept out of the state dict
            self.register_buffer(  # type: ignore[attr-defined]
                "pos_embed", sincos_pos_embed(dim, grid)[None], persistent=False
            )
        else:
            self.pos_embed = nn.Parameter(torch.zeros(1, math.prod(grid), dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.blocks = transformer_blocks(dim, depth, heads, mlp_ratio, dropout)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def _embed_tokens(
        self,
        tokens: torch.Tensor,
        keep_index: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        mask_token: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Content tokens ``[B, N, dim]`` -> ``[B, K, dim]``: masked, position added, kept."""
        tokens = mask_tokens(tokens, mask, mask_token) + self.pos_embed
        if keep_index is not None:
            tokens = gather_tokens(tokens, keep_index)
        return tokens

    def _run_blocks(
        self, tokens: torch.Tensor, padding: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The blocks then the final norm; ``padding [B, K]`` True where no token may attend."""
        for block in self.blocks:
            tokens = block(tokens, src_key_padding_mask=padding)
        return self.norm(tokens)

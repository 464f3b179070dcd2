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
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from selfsup.errors import SelfsupError

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


def _encoder_name(encoder: nn.Module) -> str:
    """The registry name of ``encoder``'s class if it has one, else the class name."""
    from selfsup.registry import ENCODERS

    for name in ENCODERS.names():
        if ENCODERS.get(name) is type(encoder):
            return name
    return type(encoder).__name__


def _token_encoder_names() -> list[str]:
    from selfsup.registry import ENCODERS

    return [n for n in ENCODERS.names() if ENCODERS.entry(n).meta.get("tokens")]


def check_token_encoder(encoder: nn.Module, method_name: str) -> nn.Module:
    """Return ``encoder`` if it fulfils the token contract, else raise one clear SelfsupError.

    Example message: ``method 'mae' needs a token encoder such as vit_tiny; small_cnn has no
    forward_tokens``.
    """
    missing = [a for a in TOKEN_ENCODER_ATTRIBUTES if not hasattr(encoder, a)]
    if missing:
        examples = ", ".join(_token_encoder_names()) or "vit_tiny"
        # forward_tokens is the one a reader recognises; list the rest only when it exists
        lacking = "forward_tokens" if "forward_tokens" in missing else ", ".join(missing)
        raise SelfsupError(
            f"method {method_name!r} needs a token encoder such as {examples}; "
            f"{_encoder_name(encoder)} has no {lacking}. Choose a token encoder "
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
            f"{_encoder_name(encoder)}: token_grid must be (n,) or (h, w) positive ints whose "
            f"product is num_tokens = {encoder.num_tokens}; got {encoder.token_grid!r}."
        )
    return encoder


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Select tokens per sample: ``tokens [B, N, D]``, ``index [B, K]`` (or ``[K]``) -> ``[B, K, D]``."""
    index = index.to(tokens.device, torch.long)
    if index.dim() == 1:
        index = index[None].expand(tokens.shape[0], -1)
    return tokens.gather(1, index[..., None].expand(-1, -1, tokens.shape[-1]))

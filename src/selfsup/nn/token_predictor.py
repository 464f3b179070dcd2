"""A narrow transformer that fills in tokens at masked grid positions from visible ones.

MAE's decoder (He et al. 2022, Section 3, "MAE decoder") and I-JEPA's predictor (Assran et
al. 2023, Section 3, "Prediction") are the same module: embed the encoder's context tokens
to a narrower width, add the position embedding of each token's grid position, append one
shared learned *mask token* (plus its position embedding) per position to predict, run a few
transformer blocks over the joint sequence, and project the query outputs — to pixels
(MAE) or to the encoder's feature width (I-JEPA).

Positions are indices into a token grid ``(gh, gw)`` or ``(n,)`` (see
:mod:`selfsup.encoders.tokens`), with fixed sin-cos embeddings
(:mod:`selfsup.nn.pos_embed`), so the module is the same for every modality.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from selfsup.encoders.tokens import gather_tokens, init_linear_weights, transformer_blocks
from selfsup.nn.pos_embed import sincos_pos_embed


class TokenPredictor(nn.Module):
    """``(context [B, K, in_dim], context_index [B, K], query_index [B, Q]) -> [B, Q, out_dim]``.

    Args:
        in_dim: width of the context tokens (the encoder's ``token_dim``).
        out_dim: width of each prediction.
        token_grid: ``(gh, gw)`` or ``(n,)``: the grid the indices point into.
        dim: width inside the predictor (narrower than the encoder in both papers).
        depth: number of pre-norm transformer blocks.
        heads: attention heads (``dim`` must be divisible by it).
        mlp_ratio: hidden width of each block's MLP, relative to ``dim``.

    The order of tokens in the joint sequence does not matter (no causal mask, positions come
    from the embeddings), so predicting only the query positions equals MAE's "full set of
    tokens" decoder restricted to the masked ones.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        token_grid: Sequence[int],
        dim: int = 128,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("depth", depth), ("heads", heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"predictor {name} must be a positive integer, got {value!r}")
        if dim % heads:
            raise ValueError(f"predictor dim {dim} must be divisible by heads {heads}")
        self.token_grid = tuple(int(g) for g in token_grid)
        self.embed = nn.Linear(in_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        # derived from the grid, not learned: kept out of the state dict
        self.register_buffer("pos_embed", sincos_pos_embed(dim, self.token_grid)[None], persistent=False)
        self.blocks = transformer_blocks(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, out_dim)
        init_linear_weights(self)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(
        self, context: torch.Tensor, context_index: torch.Tensor, query_index: torch.Tensor
    ) -> torch.Tensor:
        """Predictions ``[B, Q, out_dim]`` for the grid positions ``query_index [B, Q]``."""
        batch_size, num_context = context.shape[:2]
        pos = self.pos_embed.expand(batch_size, -1, -1)
        tokens = self.embed(context) + gather_tokens(pos, context_index)
        queries = self.mask_token + gather_tokens(pos, query_index)
        tokens = torch.cat([tokens, queries.to(tokens.dtype)], dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(self.norm(tokens[:, num_context:]))

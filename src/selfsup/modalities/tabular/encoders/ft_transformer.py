"""The feature-tokenizer transformer: every column a token, so MAE and JEPA run on tables."""

from __future__ import annotations

import torch
from torch import nn

from selfsup.encoders.base import dropout_rate, positive_int
from selfsup.encoders.tokens import TransformerTrunk
from selfsup.errors import SelfsupError
from selfsup.modalities.tabular.data.batch import TabularBatch, TabularSpec
from selfsup.registry import ENCODERS


@ENCODERS.register("ft_transformer", modality="tabular", tokens=True,
                   paper="Gorishniy et al. 2021, Revisiting Deep Learning Models for Tabular Data",
                   description="one token per column (numeric: value x weight; categorical: embedding), "
                   "transformer blocks, mean-pooled")
class FTTransformer(TransformerTrunk, nn.Module):
    r"""FT-Transformer (Gorishniy, Rubachev, Khrulkov, Babenko, NeurIPS 2021), as a token encoder.

    The feature tokenizer makes one token per column: numeric column :math:`j` gives
    :math:`x_j W_j` (plus a learned vector :math:`M_j` where the value is missing), categorical
    column :math:`j` its category's embedding :math:`E_j[x_j]`; a learned per-column embedding
    (the paper's bias :math:`b_j`, here the trunk's learned position embedding) is added to each.
    Pre-norm transformer blocks follow. ``forward`` returns the mean of the output tokens
    ``[B, dim]`` (``pool="flatten"``: all of them side by side, ``[B, F * dim]``); ``forward_tokens`` the tokens ``[B, F, dim]`` (the token contract of
    :mod:`selfsup.encoders.tokens`, grid ``(F,)``: numeric columns first, then categorical).

    ``token_targets`` (what MAE reconstructs) gives each token ``1 + max cardinality`` values:
    a numeric column's standardised value then zeros, a categorical column 0 then the one-hot of
    its category.

    Args:
        input_spec: the table's :class:`TabularSpec`.
        dim / depth / heads / mlp_ratio / dropout: the transformer's width, blocks, attention
            heads, MLP width ratio and dropout.
        pool: ``"mean"`` (``[B, dim]``) or ``"flatten"``: the tokens side by side
            (``[B, F * dim]``, the representation T-JEPA's evaluation reads).

    Paper defaults vs. library defaults: d = 192, 3 blocks, 8 heads, FFN ratio 4/3 with ReGLU,
    attention dropout 0.2, a [CLS] token read out for the prediction. Library: dim 64, 3
    blocks, 4 heads, GELU MLP ratio 2, dropout 0, mean pooling (a [CLS] token would be a token
    no column owns, which the token contract's masking has no place for).
    """

    def __init__(self, input_spec: TabularSpec, dim: int = 64, depth: int = 3, heads: int = 4,
                 mlp_ratio: float = 2.0, dropout: float = 0.0, pool: str = "mean") -> None:
        super().__init__()
        name = "ft_transformer"
        dim, depth, heads = (positive_int(v, k, name) for v, k in ((dim, "dim"), (depth, "depth"), (heads, "heads")))
        if dim % heads:
            raise SelfsupError(f"Option heads of encoder {name!r} must divide dim ({dim}); got {heads}.")
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or not mlp_ratio > 0:
            raise SelfsupError(f"Option mlp_ratio of encoder {name!r} must be a number > 0; got {mlp_ratio!r}.")
        dropout = dropout_rate(dropout, "dropout", name)
        if pool not in ("mean", "flatten"):
            raise SelfsupError(f"Option pool of encoder {name!r} must be 'mean' or 'flatten'; got {pool!r}.")
        self.pool = pool
        if input_spec.num_features == 0:
            raise SelfsupError(f"Encoder {name!r} needs a table with at least one feature column.")
        self.input_spec = input_spec
        n_numeric = len(input_spec.numeric)
        self.numeric_weight = nn.Parameter(torch.randn(n_numeric, dim) * dim**-0.5)
        self.missing_embedding = nn.Parameter(torch.zeros(n_numeric, dim))
        offsets = torch.tensor([0, *input_spec.cardinalities[:-1]], dtype=torch.long).cumsum(0)
        self.register_buffer("category_offsets", offsets[: len(input_spec.cardinalities)], persistent=False)
        self.category_embedding = nn.Embedding(max(sum(input_spec.cardinalities), 1), dim)
        nn.init.normal_(self.category_embedding.weight, std=dim**-0.5)
        self.num_tokens = input_spec.num_features
        self.token_grid = (self.num_tokens,)
        self._build_trunk(self.token_grid, dim, depth, heads, float(mlp_ratio), dropout, "learned")
        self.token_dim = dim
        self.output_dim = dim * self.num_tokens if pool == "flatten" else dim
        self.max_cardinality = max(input_spec.cardinalities, default=0)
        self.token_target_dim = 1 + self.max_cardinality

    def tokenize(self, x: TabularBatch) -> torch.Tensor:
        """The feature tokens ``[B, F, dim]`` (before the column embedding)."""
        numeric = x.numeric[..., None] * self.numeric_weight + x.missing[..., None] * self.missing_embedding
        categorical = self.category_embedding(x.categorical + self.category_offsets)
        return torch.cat([numeric, categorical], dim=1)

    def forward_tokens(self, x: TabularBatch, keep_index: torch.Tensor | None = None,
                       mask: torch.Tensor | None = None, mask_token: torch.Tensor | None = None) -> torch.Tensor:
        return self._run_blocks(self._embed_tokens(self.tokenize(x), keep_index, mask, mask_token))

    def forward(self, x: TabularBatch) -> torch.Tensor:
        tokens = self.forward_tokens(x)
        return tokens.flatten(1) if self.pool == "flatten" else tokens.mean(dim=1)

    def token_targets(self, x: TabularBatch) -> torch.Tensor:
        """``[B, F, 1 + max cardinality]``: see the class doc."""
        rows, n_numeric = len(x), x.numeric.shape[1]
        target = x.numeric.new_zeros(rows, self.num_tokens, self.token_target_dim)
        target[:, :n_numeric, 0] = x.numeric
        if self.max_cardinality:
            one_hot = nn.functional.one_hot(x.categorical, self.max_cardinality).to(target.dtype)
            target[:, n_numeric:, 1:] = one_hot
        return target

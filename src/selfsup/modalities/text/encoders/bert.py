"""A BERT-style transformer over token ids, with the token contract (MAE / JEPA on text)."""

from __future__ import annotations

import torch
from torch import nn

from selfsup.encoders.base import dropout_rate, positive_int
from selfsup.encoders.tokens import TransformerTrunk, gather_tokens
from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import TextBatch, TextSpec
from selfsup.registry import ENCODERS

#: Turc et al. 2019 ("Well-Read Students Learn Better"), the compact BERTs: (layers, hidden, heads)
SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (2, 128, 2),
    "mini": (4, 256, 4),
    "small": (4, 512, 8),
    "medium": (8, 512, 8),
    "base": (12, 768, 12),
}


POOLINGS = ("mean", "cls", "first_last")


def text_spec(spec: object, encoder: str) -> TextSpec:
    """``spec`` if it describes text, else one SelfsupError naming the encoder."""
    if not isinstance(spec, TextSpec):
        raise SelfsupError(f"Encoder {encoder!r} reads text (token ids); the data is described by {spec!r}. "
                           "Choose an encoder for this modality.")
    return spec


def check_text_batch(x: object, spec: TextSpec, encoder: str) -> TextBatch:
    """``x`` if it is a :class:`TextBatch` no longer than ``spec.max_length``."""
    if not isinstance(x, TextBatch):
        raise SelfsupError(f"Encoder {encoder!r} takes a TextBatch; got {type(x).__name__}.")
    if x.max_length > spec.max_length:
        raise SelfsupError(f"Encoder {encoder!r} was built for texts of up to {spec.max_length} tokens; "
                           f"got a batch of {x.max_length}. Rebuild it with the data's spec.")
    return x


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``states [B, L, D]`` over the True positions of ``mask [B, L]`` -> ``[B, D]``."""
    weight = mask[..., None].to(states.dtype)
    return (states * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)


def bert_init(module: nn.Module) -> None:
    """BERT's initialisation (Devlin et al. 2019, the reference code's ``initializer_range``):
    every linear map and embedding drawn from N(0, 0.02), biases zero, LayerNorms the identity.
    With PyTorch's default initialisation of the blocks instead, each block's output starts some
    25 times larger than the 0.02-scaled token embeddings, so the residual stream of a
    pre-norm encoder forgets which tokens it holds before training begins."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.MultiheadAttention):
        nn.init.normal_(module.in_proj_weight, std=0.02)
        nn.init.zeros_(module.in_proj_bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


@ENCODERS.register(
    "bert", modality="text", tokens=True, sequence=True,
    paper="Devlin et al. 2019, BERT; Turc et al. 2019, Well-Read Students Learn Better (compact sizes)",
    description="BERT-style pre-norm transformer over token ids (sizes tiny..base), mean, [CLS] or first-last pooling",
    changed_defaults={"embed_norm": (False, True)},  # runs written before the norm load without it
)
class BertEncoder(nn.Module, TransformerTrunk):
    r"""A BERT-style encoder (Devlin et al. 2019) in the pre-norm form (Xiong et al. 2020).

    Token embedding + learned position embedding, a LayerNorm (BERT's embedding norm), dropout,
    ``depth`` pre-norm transformer blocks
    (GELU MLP, dropout in attention and on the residual branches), a final LayerNorm. Padding is
    never attended to (a key padding mask from ``TextBatch.lengths``).

    Outputs:
        * ``forward(x) -> [B, dim]``: ``pooling="mean"`` (the mean over the text's tokens,
          ``[CLS]`` and ``[SEP]`` included, padding excluded), ``"cls"`` (the ``[CLS]`` state) or
          ``"first_last"`` (the mean over the tokens of the average of the normalised input
          embeddings and the final states: the "first-last average" that Li et al. 2020, BERT-flow,
          and Su et al. 2021, BERT-whitening, find reads an MLM model better than its last layer).
        * ``token_states(x) -> ([B, L, dim], mask [B, L])``: per-token states for MLM / ELECTRA;
          ``input_embedding`` is the token embedding (``[V, dim]``), for tied output weights.
        * ``forward_sequence(x) -> [B, L, dim]`` (the sequence contract: padding states zero) and
          ``frame_mask(x) -> [B, L]``, so discrete units (``selfsup units``) read one frame per token.
        * the token contract of :mod:`selfsup.encoders.tokens`, so MAE, JEPA and data2vec-style
          methods run on text unchanged: ``num_tokens = spec.max_length``, ``token_grid = (N,)``;
          ``forward_tokens`` pads the batch to ``N`` (``TextBatch.padded_to``) and keeps padding
          out of attention (a row whose kept tokens are all padding attends among them: a
          softmax over no keys is NaN). ``token_targets`` are what MAE regresses: tokens are
          discrete, so each vocabulary id gets a fixed random Gaussian code of ``target_dim``
          values, drawn from ``target_seed`` (a non-persistent buffer, rebuilt identically from the
          options). That is BEST-RQ's device (Chiu et al. 2022: a frozen random projection gives
          regression / classification targets with nothing learned), here a frozen random
          embedding: the MSE is small only when the decoder identifies the hidden token.

    Why mean pooling by default: nothing trains the ``[CLS]`` state under MLM, ELECTRA, MAE or
    JEPA (BERT trained it with next-sentence prediction, which selfsup does not use), so a probe
    of an MLM model reads a better mean than ``[CLS]`` (Reimers & Gurevych 2019, Table 1 / 7:
    mean pooling beats ``[CLS]`` for sentence embeddings); SimCSE trains either well and its
    paper finds them close (Gao et al. 2021, Table 6).

    Args:
        spec: the data's :class:`TextSpec` (vocabulary size, ``max_length``).
        size: a compact BERT of Turc et al. 2019: ``tiny`` (2 layers, 128 wide, 2 heads),
            ``mini`` (4/256/4), ``small`` (4/512/8), ``medium`` (8/512/8), ``base`` (12/768/12).
        dim / depth / heads: override the size's width, layers and heads.
        mlp_ratio: MLP width / ``dim`` (BERT: 4).
        dropout: dropout on embeddings, attention and residual branches (BERT: 0.1); it is
            SimCSE's and Mirror-BERT's only noise, so it is on by default.
        pooling: ``"mean"``, ``"cls"`` or ``"first_last"``.
        embed_norm: the LayerNorm over the summed token + position embeddings (BERT's). Without
            it, the 0.02-scaled embeddings are small beside what the first blocks add to the
            residual stream. At random init on ``fortunes`` the norm lifts the kNN probe from 0.234
            to 0.301 (``tiny``) and from 0.252 to 0.319 (``mini``), where Hugging Face's untrained
            BERT scores 0.312 (``benchmarks/text_embed_norm.py``). Runs saved before the norm
            existed load without it.
        target_dim / target_seed: the random token codes of ``token_targets``.
    """

    def __init__(self, spec: TextSpec, size: str = "tiny", dim: int | None = None, depth: int | None = None,
                 heads: int | None = None, mlp_ratio: float = 4.0, dropout: float = 0.1, pooling: str = "mean",
                 embed_norm: bool = True, target_dim: int = 32, target_seed: int = 0) -> None:
        super().__init__()
        name = "bert"
        self.input_spec = text_spec(spec, name)
        if size not in SIZES:
            raise SelfsupError(f"Option size of encoder {name!r} must be one of {', '.join(SIZES)}; got {size!r}.")
        default_depth, default_dim, default_heads = SIZES[size]
        dim = positive_int(default_dim if dim is None else dim, "dim", name)
        depth = positive_int(default_depth if depth is None else depth, "depth", name)
        heads = positive_int(default_heads if heads is None else heads, "heads", name)
        if dim % heads:
            raise SelfsupError(f"Option heads of encoder {name!r} must divide dim ({dim}); got {heads}.")
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or not mlp_ratio > 0:
            raise SelfsupError(f"Option mlp_ratio of encoder {name!r} must be a number > 0; got {mlp_ratio!r}.")
        if pooling not in POOLINGS:
            raise SelfsupError(f"Option pooling of encoder {name!r} must be one of {', '.join(POOLINGS)}; "
                               f"got {pooling!r}.")
        if not isinstance(embed_norm, bool):
            raise SelfsupError(f"Option embed_norm of encoder {name!r} must be true or false; got {embed_norm!r}.")
        dropout = dropout_rate(dropout, "dropout", name)
        self.pooling = pooling
        self.dim, self.depth, self.heads = dim, depth, heads
        self.token_embed = nn.Embedding(spec.vocab_size, dim)
        nn.init.normal_(self.token_embed.weight, std=0.02)  # BERT's initializer_range
        self.embed_norm = nn.LayerNorm(dim, eps=1e-12) if embed_norm else nn.Identity()  # BERT's eps
        self.embed_dropout = nn.Dropout(dropout)
        self.num_tokens = spec.max_length
        self.token_grid = (spec.max_length,)
        self._build_trunk(self.token_grid, dim, depth, heads, float(mlp_ratio), dropout, "learned")
        self.output_dim = self.token_dim = dim
        self.token_target_dim = positive_int(target_dim, "target_dim", name)
        generator = torch.Generator().manual_seed(int(target_seed))
        codes = torch.randn(spec.vocab_size, self.token_target_dim, generator=generator)
        # derived from the options, not learned: kept out of the state dict
        self.register_buffer("token_codes", codes, persistent=False)
        self.apply(bert_init)


    @property
    def input_embedding(self) -> nn.Embedding:
        """The token embedding ``[V, dim]``: MLM heads tie their output weights to it."""
        return self.token_embed

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.token_embed(ids)

    def _blocks(self, tokens: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        return self._blocks_from(self.embed_norm(tokens), attended)

    def _blocks_from(self, normed: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        # a row with no key to attend to would be NaN: let it attend among its padding instead
        padding = ~attended & ~(~attended).all(dim=1, keepdim=True)
        return self._run_blocks(self.embed_dropout(normed), padding)

    def layers(self, x: TextBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(first, last, mask)``: the normalised input embeddings and the final states."""
        x = check_text_batch(x, self.input_spec, "bert")
        first = self.embed_norm(self._embed(x.ids) + self.pos_embed[:, : x.max_length])
        return first, self._blocks_from(first, x.mask), x.mask

    def token_states(self, x: TextBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(states [B, L, dim], mask [B, L])``: the final-norm state of every position of the
        batch (``L`` its own width) and which positions are tokens."""
        _, states, mask = self.layers(x)
        return states, mask

    def forward_sequence(self, x: TextBatch) -> torch.Tensor:
        """``[B, L, dim]``: the token states, zero at the padding."""
        states, mask = self.token_states(x)
        return states * mask[..., None].to(states.dtype)

    def frame_mask(self, x: TextBatch) -> torch.Tensor:
        """``[B, L]`` bool: which frames of :meth:`forward_sequence` are tokens."""
        return x.mask

    def pool(self, states: torch.Tensor, mask: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled embedding ``[B, dim]`` of the final ``states`` (for methods that read both,
        from one pass); ``first_last`` pooling also needs the normalised input embeddings ``first``
        (:meth:`layers` gives all three)."""
        if self.pooling == "cls":
            return states[:, 0]
        if self.pooling == "first_last":
            if first is None:
                raise ValueError("first_last pooling needs the input embeddings: pool(*encoder.layers(x)[1:], first)")
            states = (first + states) / 2
        return masked_mean(states, mask)

    def forward(self, x: TextBatch) -> torch.Tensor:
        first, states, mask = self.layers(x)
        return self.pool(states, mask, first)

    def forward_tokens(self, x: TextBatch, keep_index: torch.Tensor | None = None,
                       mask: torch.Tensor | None = None, mask_token: torch.Tensor | None = None) -> torch.Tensor:
        x = check_text_batch(x, self.input_spec, "bert").padded_to(self.num_tokens)
        tokens = self._embed_tokens(self._embed(x.ids), keep_index, mask, mask_token)
        attended = x.mask
        if keep_index is not None:
            attended = gather_tokens(attended[..., None], keep_index)[..., 0]
        return self._blocks(tokens, attended)

    def token_targets(self, x: TextBatch) -> torch.Tensor:
        """``[B, N, target_dim]``: the random code of each position's id (padding: the code of
        ``[PAD]``), in grid order."""
        x = check_text_batch(x, self.input_spec, "bert").padded_to(self.num_tokens)
        return self.token_codes[x.ids]

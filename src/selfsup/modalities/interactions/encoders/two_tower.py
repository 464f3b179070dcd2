r"""The two-tower encoder: a user tower and an item tower, each an MLP over its side's features.

Each tower embeds every feature of its side (:class:`~..data.features.EntityFeatures`) in
``feature_dim`` dimensions — a categorical column by an embedding table with an unknown slot
(code 0), a multi-valued one by the mean of its tokens' embeddings, a numeric one by a learned
vector scaled by the value plus a bias — and, with ``use_ids`` (default), the user's or item's
own ID embedding as one more feature. The features' embeddings, concatenated, go through an MLP
(``hidden`` units, ReLU) to the ``embedding_dim`` (64) output, L2-normalised: the towers of Yi et
al. 2019 ("Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations",
Section 3 and 5: normalised outputs, their inner product over a temperature) and of Yao et al.
2021 (Figure 1), whose item tower also makes the self-supervised views (:mod:`~..masking`).

Without a feature table the side has only its ID embedding (matrix factorisation through an
MLP), and says so once (a warning), as it says which columns of a table were not made features;
a side with neither features nor ``use_ids`` is refused.

The contract of the interactions methods and the evaluation is
:class:`~.lightgcn.IdEmbeddings`'s: ``user_item_embeddings()`` the final ``[num_users, D]`` and
``[num_items, D]`` tables (cached while the weights do not change), ``forward(batch["x"])`` the
batch's users ``[B, D]``, and ``propagate`` / ``combine`` / ``split`` / ``ego`` with no propagation
layer (so BPR-MF trains it too). The two-tower methods encode only the batch's rows:
``encode_users(rows)``, ``encode_items(rows, masked=None, token_dropout=0.0)`` where ``masked
[B, F]`` zeroes chosen features of each row (``F = num_item_features``, the ID last).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.modalities.interactions.data.batch import InteractionBatch, InteractionSpec
from selfsup.modalities.interactions.data.features import EntityFeatures, feature_codes
from selfsup.registry import ENCODERS
from selfsup.validate import check_int


class FeatureEmbedding(nn.Module):
    """The per-feature embeddings of one side: ``rows [B] -> [B, F, feature_dim]``.

    The feature values are buffers (saved with the weights, so a loaded encoder has them)."""

    def __init__(self, features: EntityFeatures | None, rows: int, feature_dim: int, use_ids: bool) -> None:
        super().__init__()
        self.rows = rows
        self.use_ids = use_ids
        names = list(features.names) if features is not None else []
        self.names = names + (["id"] if use_ids else [])
        categorical = features.categorical if features is not None else torch.zeros(rows, 0, dtype=torch.long)
        numeric = features.numeric if features is not None else torch.zeros(rows, 0)
        self.register_buffer("categorical", categorical.long().clone())
        self.register_buffer("numeric", numeric.float().clone())
        self.num_tokens = len(features.tokens) if features is not None else 0
        for k in range(self.num_tokens):
            self.register_buffer(f"tokens_{k}", features.tokens[k].long().clone())
        self.categorical_tables = nn.ModuleList(
            nn.Embedding(c, feature_dim) for c in (features.cardinalities if features is not None else []))
        self.token_tables = nn.ModuleList(
            nn.Embedding(v, feature_dim, padding_idx=0) for v in (features.vocabularies if features is not None else []))
        self.numeric_scale = nn.Parameter(torch.randn(self.numeric.shape[1], feature_dim) * 0.1)
        self.numeric_bias = nn.Parameter(torch.zeros(self.numeric.shape[1], feature_dim))
        self.ids = nn.Embedding(rows, feature_dim) if use_ids else None
        for table in [*self.categorical_tables, *self.token_tables, *([self.ids] if self.ids is not None else [])]:
            nn.init.normal_(table.weight, std=0.1)

    def __len__(self) -> int:
        return len(self.names)

    def codes(self) -> Tensor:
        """``[rows, F]`` every feature as categories (the ID: the row itself), for CFM's counts."""
        tokens = [getattr(self, f"tokens_{k}") for k in range(self.num_tokens)]
        codes = feature_codes(self.categorical.cpu(), [t.cpu() for t in tokens], self.numeric.cpu())
        if self.use_ids:
            codes = torch.cat([codes, torch.arange(self.rows)[:, None]], 1)
        return codes

    def forward(self, rows: Tensor, token_dropout: float = 0.0) -> Tensor:
        parts = [table(self.categorical[rows, c]) for c, table in enumerate(self.categorical_tables)]
        for k, table in enumerate(self.token_tables):
            tokens = getattr(self, f"tokens_{k}")[rows]
            if token_dropout > 0:  # Yao et al.'s dropout: each value of a multi-valued feature
                tokens = tokens.masked_fill(torch.rand(tokens.shape, device=tokens.device) < token_dropout, 0)
            count = (tokens > 0).sum(1, keepdim=True).clamp(min=1)
            parts.append(table(tokens).sum(1) / count)
        if self.numeric.shape[1]:
            values = self.numeric[rows]  # [B, M]
            parts.extend((values[:, :, None] * self.numeric_scale + self.numeric_bias).unbind(1))
        if self.ids is not None:
            parts.append(self.ids(rows))
        return torch.stack(parts, 1)


class Tower(nn.Module):
    """Feature embeddings -> MLP -> L2-normalised ``[B, embedding_dim]``."""

    def __init__(self, features: EntityFeatures | None, rows: int, feature_dim: int, hidden: int,
                 embedding_dim: int, use_ids: bool) -> None:
        super().__init__()
        self.features = FeatureEmbedding(features, rows, feature_dim, use_ids)
        self.mlp = nn.Sequential(nn.Linear(len(self.features) * feature_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, embedding_dim))

    def forward(self, rows: Tensor, masked: Tensor | None = None, token_dropout: float = 0.0) -> Tensor:
        h = self.features(rows, token_dropout)  # [B, F, d]
        if masked is not None:  # a masked feature's embedding is zero (its default value)
            h = h * (~masked)[:, :, None]
        return F.normalize(self.mlp(h.flatten(1)), dim=-1)


class TwoTower(nn.Module):
    """Two towers over user and item features (module doc).

    Args:
        input_spec: catalogue sizes and the feature tables (``user_features`` / ``item_features``).
        embedding_dim: output ``D`` (64, as the other interactions encoders).
        feature_dim: each feature's embedding size.
        hidden: the towers' hidden layer.
        use_ids: add each user's and item's ID embedding as a feature (default; without feature
            tables the towers have nothing else).
    """

    layers = 0

    def __init__(self, input_spec: InteractionSpec, embedding_dim: int = 64, feature_dim: int = 32,
                 hidden: int = 256, use_ids: bool = True) -> None:
        super().__init__()
        for name, value in (("embedding_dim", embedding_dim), ("feature_dim", feature_dim), ("hidden", hidden)):
            check_int(value, name)
        if not isinstance(use_ids, bool):
            raise SelfsupError(f"encoder.use_ids is true or false; got {use_ids!r}.")
        self.num_users, self.num_items = input_spec.num_users, input_spec.num_items
        missing = [side for side, f in (("user", input_spec.user_features), ("item", input_spec.item_features))
                   if f is None]
        if missing and not use_ids:
            raise SelfsupError(f"encoder two_tower with use_ids: false embeds features only, and the data has no "
                               f"{' or '.join(missing)} feature table. Give one (data.options.{missing[0]}_features) "
                               "or set encoder.use_ids: true.")
        said = []
        if missing:
            said.append(f"two_tower: the data has no {' or '.join(missing)} feature table; those towers embed the IDs "
                        "alone.")
        for features in (input_spec.user_features, input_spec.item_features):
            said += features.left_out if features is not None else []
        for line in said:
            warnings.warn(line, UserWarning, stacklevel=2)
        self.user_tower = Tower(input_spec.user_features, self.num_users, feature_dim, hidden, embedding_dim, use_ids)
        self.item_tower = Tower(input_spec.item_features, self.num_items, feature_dim, hidden, embedding_dim, use_ids)
        self.output_dim = embedding_dim
        self._cache: tuple[Any, tuple[Tensor, Tensor]] | None = None

    @property
    def num_item_features(self) -> int:
        return len(self.item_tower.features)

    def item_feature_names(self) -> list[str]:
        return list(self.item_tower.features.names)

    def item_feature_codes(self) -> Tensor:
        """``[num_items, F]`` the item features as categories (CFM's mutual information)."""
        return self.item_tower.features.codes()

    def encode_users(self, rows: Tensor) -> Tensor:
        return self.user_tower(rows)

    def encode_items(self, rows: Tensor, masked: Tensor | None = None, token_dropout: float = 0.0) -> Tensor:
        return self.item_tower(rows, masked, token_dropout)

    # the IdEmbeddings contract (no propagation): every user's and item's tower output
    def ego(self) -> Tensor:
        device = self.item_tower.features.numeric.device
        users = self.encode_users(torch.arange(self.num_users, device=device))
        return torch.cat([users, self.encode_items(torch.arange(self.num_items, device=device))])

    def propagate(self, adjacency: Tensor | list[Tensor] | None = None, noise: float = 0.0) -> list[Tensor]:
        return [self.ego()]

    def combine(self, layers: list[Tensor]) -> Tensor:
        return layers[-1]

    def split(self, h: Tensor) -> tuple[Tensor, Tensor]:
        return h[: self.num_users], h[self.num_users:]

    def user_item_embeddings(self) -> tuple[Tensor, Tensor]:
        """The final ``users [num_users, D]`` and ``items [num_items, D]``; without gradients (and
        in eval mode) cached until a weight changes."""
        if torch.is_grad_enabled():
            return self.split(self.ego())
        key = tuple((p.data_ptr(), p._version) for p in self.parameters())
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self.split(self.ego()))
        return self._cache[1]

    def forward(self, x: InteractionBatch) -> Tensor:
        return self.encode_users(x.users)


@ENCODERS.register("two_tower", modality="interactions", description="two towers: an MLP over each user's and "
                   "item's features (+ ID embedding), 64-d normalised output (Yi et al. 2019; Yao et al. 2021)")
def two_tower(input_spec: InteractionSpec, embedding_dim: int = 64, feature_dim: int = 32, hidden: int = 256,
              use_ids: bool = True) -> TwoTower:
    return TwoTower(input_spec, embedding_dim, feature_dim, hidden, use_ids)

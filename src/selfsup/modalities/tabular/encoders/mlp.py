"""The table MLP: categorical embeddings + numeric values (+ missing flags) -> MLP -> ``[B, D]``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from selfsup.encoders.base import dropout_rate, flag, positive_int
from selfsup.errors import SelfsupError
from selfsup.modalities.tabular.data.batch import TabularBatch, TabularSpec
from selfsup.registry import ENCODERS

_NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm, "none": None}


@ENCODERS.register("tabular_mlp", modality="tabular", paper="Bahri et al. 2022, SCARF (encoder)",
                   description="categorical embeddings + numeric values -> Linear-Norm-ReLU layers")
class TabularMLP(nn.Module):
    """``x: TabularBatch -> [B, D]``.

    Each categorical column ``j`` has its own ``nn.Embedding(cardinality_j, embedding_dim)``
    (row 0: the unknown category); the embeddings, the standardised numeric values and (with
    ``missing_flags``) one 0/1 flag per numeric column are concatenated and go through
    ``Linear → norm → ReLU (→ dropout)`` per hidden layer.

    Args:
        input_spec: the table's :class:`TabularSpec` (columns and cardinalities).
        hidden_dims: widths of the hidden layers; the last one is ``output_dim``. Default: SCARF's
            encoder, 4 layers of 256 ReLU units (Bahri et al. 2022, Section 3).
        embedding_dim: width of each categorical column's embedding.
        norm: ``"batch"``, ``"layer"`` or ``"none"`` after each linear layer (SCARF: none;
            library: batch, which trains faster with the engine's AdamW).
        dropout: dropout after each hidden layer.
        missing_flags: append the numeric columns' missing flags to the input.
    """

    def __init__(
        self,
        input_spec: TabularSpec,
        hidden_dims: Sequence[int] = (256, 256, 256, 256),
        embedding_dim: int = 8,
        norm: str = "batch",
        dropout: float = 0.0,
        missing_flags: bool = True,
    ) -> None:
        super().__init__()
        if norm not in _NORMS:
            raise SelfsupError(f"Option norm of encoder 'tabular_mlp' must be one of {list(_NORMS)}; got {norm!r}.")
        if isinstance(hidden_dims, (str, int)) or not hidden_dims:
            raise SelfsupError(f"Option hidden_dims of encoder 'tabular_mlp' must be a list of widths; got {hidden_dims!r}.")
        hidden_dims = [positive_int(h, "hidden_dims", "tabular_mlp") for h in hidden_dims]
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim", "tabular_mlp")
        dropout = dropout_rate(dropout, "dropout", "tabular_mlp")
        self.missing_flags = flag(missing_flags, "missing_flags", "tabular_mlp")
        self.input_spec = input_spec
        self.embeddings = nn.ModuleList(nn.Embedding(c, self.embedding_dim) for c in input_spec.cardinalities)
        n_numeric = len(input_spec.numeric)
        d_in = n_numeric * (2 if self.missing_flags else 1) + len(input_spec.cardinalities) * self.embedding_dim
        if d_in == 0:
            raise SelfsupError("Encoder 'tabular_mlp' needs a table with at least one feature column.")
        layers: list[nn.Module] = []
        for d_out in hidden_dims:
            layers.append(nn.Linear(d_in, d_out))
            if _NORMS[norm] is not None:
                layers.append(_NORMS[norm](d_out))
            layers.append(nn.ReLU(inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            d_in = d_out
        self.net = nn.Sequential(*layers)
        self.output_dim = d_in

    def features(self, x: TabularBatch) -> torch.Tensor:
        """The MLP's input ``[B, d_in]``: numeric, missing flags, then the embeddings."""
        parts = [x.numeric]
        if self.missing_flags:
            parts.append(x.missing.to(x.numeric.dtype))
        parts += [embedding(x.categorical[:, j]) for j, embedding in enumerate(self.embeddings)]
        return torch.cat(parts, dim=1)

    def forward(self, x: TabularBatch) -> torch.Tensor:
        return self.net(self.features(x))

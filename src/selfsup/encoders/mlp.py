"""A multilayer perceptron over flattened samples, for any input shape (tests, tables)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from selfsup.encoders.base import dropout_rate, positive_int
from selfsup.errors import SelfsupError
from selfsup.registry import ENCODERS

_NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm, "none": None}


@ENCODERS.register(
    "mlp", modality="any", description="flatten, then Linear-Norm-ReLU layers; any input shape"
)
class MLPEncoder(nn.Module):
    """Flatten, then ``Linear → norm → ReLU (→ dropout)`` per hidden layer: ``x -> [B, D]``.

    Args:
        input_shape: shape of one sample (anything; it is flattened).
        hidden_dims: widths of the hidden layers; the last one is the output size unless
            ``output_dim`` is given.
        output_dim: if given, a final plain linear layer to this size.
        norm: ``"batch"``, ``"layer"`` or ``"none"``.
        dropout: dropout after each hidden layer.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden_dims: Sequence[int] = (256, 256),
        output_dim: int | None = None,
        norm: str = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if norm not in _NORMS:
            raise SelfsupError(f"Option norm of encoder 'mlp' must be one of {list(_NORMS)}; "
                               f"got {norm!r}.")
        hidden_dims = [positive_int(int(h), "hidden_dims", "mlp") for h in hidden_dims]
        dropout = dropout_rate(dropout, "dropout", "mlp")
        self.input_shape = tuple(int(s) for s in input_shape)
        layers: list[nn.Module] = [nn.Flatten(1)]
        d_in = math.prod(self.input_shape)
        for d_out in hidden_dims:
            layers.append(nn.Linear(d_in, d_out))
            if _NORMS[norm] is not None:
                layers.append(_NORMS[norm](d_out))
            layers.append(nn.ReLU(inplace=True))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            d_in = d_out
        if output_dim is not None:
            layers.append(nn.Linear(d_in, positive_int(output_dim, "output_dim", "mlp")))
            d_in = output_dim
        self.net = nn.Sequential(*layers)
        self.output_dim = d_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, *input_shape] -> [B, output_dim]``."""
        return self.net(x)

"""Projector and predictor heads.

One builder covers the heads of the methods in the catalogue:

* SimCLR (Chen et al. 2020): ``Linear-BN-ReLU-Linear``, output without BN.
* BYOL (Grill et al. 2020): projector and predictor ``Linear-BN-ReLU-Linear``.
* Barlow Twins (Zbontar et al. 2021) / VICReg (Bardes et al. 2022): three linear layers,
  the first two followed by BN and ReLU.
* SimCLR-v2 / SimSiam-style heads end with a BatchNorm without affine parameters
  (``last_batch_norm=True``), which standardises each output dimension over the batch.
"""

from __future__ import annotations

from numbers import Integral

from torch import nn


class MLP(nn.Sequential):
    """A ``num_layers``-deep perceptron: ``(Linear [BN] ReLU) * (num_layers - 1), Linear [BN]``.

    Args:
        in_dim: input width (the encoder's ``output_dim`` for a projector).
        hidden_dim: width of every hidden layer.
        out_dim: output width.
        num_layers: number of linear layers (1 gives a single linear map).
        batch_norm: BatchNorm1d after each hidden linear layer.
        last_batch_norm: BatchNorm1d after the output layer.
        last_affine: whether that last BatchNorm has a learnable scale and shift; False
            (the usual choice) makes it a pure batch standardisation.

    Shapes: ``[B, in_dim] -> [B, out_dim]``.

    Example:
        >>> projector = MLP(512, 2048, 128, num_layers=2)
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        batch_norm: bool = True,
        last_batch_norm: bool = False,
        last_affine: bool = False,
    ) -> None:
        if num_layers < 1:
            raise ValueError(f"MLP needs num_layers >= 1, got {num_layers}")
        # torch refuses a negative width with a RuntimeError and builds a zero width silently;
        # a ValueError here reaches a recipe's user as one line (Registry.build).
        widths = {"in_dim": in_dim, "out_dim": out_dim}
        if num_layers > 1:
            widths["hidden_dim"] = hidden_dim
        for name, width in widths.items():
            if isinstance(width, bool) or not isinstance(width, Integral) or width < 1:
                raise ValueError(f"MLP {name} must be an integer >= 1, got {width!r}")
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(num_layers - 1):
            # A bias right before BatchNorm is cancelled by its mean subtraction.
            layers.append(nn.Linear(width, hidden_dim, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.ReLU(inplace=True))
            width = hidden_dim
        layers.append(nn.Linear(width, out_dim, bias=not last_batch_norm))
        if last_batch_norm:
            layers.append(nn.BatchNorm1d(out_dim, affine=last_affine))
        super().__init__(*layers)
        self.in_dim = in_dim
        self.out_dim = out_dim

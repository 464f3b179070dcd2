"""I-JEPA's latent-prediction loss (Assran et al. 2023, eq. 1): squared L2 distance between
predicted and target token *representations*, averaged over target blocks.

A per-sample average over a fixed number of tokens per sample (one block size per batch), so
the mean over a global batch equals the mean of the per-process means: under DDP no gathering
is needed.
"""

from __future__ import annotations

import torch


def latent_prediction_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""I-JEPA's loss: mean squared distance between predicted and target representations.

    .. math::
        \mathcal{L} = \frac{1}{M} \sum_{i=1}^{M} \frac{1}{|B_i|} \sum_{j \in B_i}
                      \frac{1}{D} \lVert \hat s_{y_j} - s_{y_j} \rVert_2^2

    (eq. 1 of the paper, divided by the block size and the width so that it does not scale
    with them). The paper's code uses a smooth-L1 distance instead; the text and equation
    say L2, which we follow.

    Args:
        pred: predictions ``[M, B, T, D]`` (``M`` target blocks of ``T`` tokens), or any shape.
        target: targets of the same shape, without gradient (the EMA encoder's tokens).

    Returns:
        scalar loss.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    return (pred - target).pow(2).mean()

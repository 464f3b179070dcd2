"""Masked language modelling's loss (Devlin et al. 2019, Section 3.1, "Task #1: Masked LM")."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

#: a target the loss ignores (PyTorch's ``cross_entropy`` default ``ignore_index``)
IGNORE = -100


def masked_lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    r"""Cross-entropy of the predicted vocabulary distributions at the selected positions:

    .. math::
        \mathcal{L}_{\mathrm{MLM}} = -\frac{1}{|\mathcal M|} \sum_{i \in \mathcal M}
            \log p_\theta(x_i \mid \tilde x)

    Args:
        logits: ``[..., V]`` scores over the vocabulary.
        targets: ``[...]`` original ids, :data:`IGNORE` where nothing is predicted.

    Returns:
        Scalar; ``0`` (with a graph) when no position is selected, instead of PyTorch's NaN.

    Example:
        >>> logits, targets = torch.randn(4, 7, 100), torch.full((4, 7), IGNORE)
        >>> targets[:, 2] = 9
        >>> loss = masked_lm_loss(logits, targets)
    """
    logits, targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    if not bool((targets != IGNORE).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), targets, ignore_index=IGNORE)

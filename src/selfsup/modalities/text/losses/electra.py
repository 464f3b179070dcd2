"""ELECTRA's replaced token detection loss (Clark et al. 2020, Section 2, eq. for L_Disc)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def replaced_token_detection_loss(logits: Tensor, replaced: Tensor, mask: Tensor) -> Tensor:
    r"""Binary cross-entropy of "was this token replaced?" over every token of the input:

    .. math::
        \mathcal{L}_{\mathrm{Disc}} = \frac{1}{|T|} \sum_{t \in T}
            -\mathbb{1}(x^{corrupt}_t \ne x_t) \log D(x^{corrupt}, t)
            -\mathbb{1}(x^{corrupt}_t = x_t) \log (1 - D(x^{corrupt}, t))

    with :math:`D = \sigma(\mathrm{logits})` and :math:`T` the non-padding positions (the
    paper sums over all positions; the mean over tokens is its public code's normalisation).

    Args:
        logits: ``[B, L]`` discriminator scores.
        replaced: ``[B, L]`` bool, True where the generator's sample differs from the original.
        mask: ``[B, L]`` bool, True at the tokens (padding excluded).

    Returns:
        Scalar.

    Example:
        >>> logits = torch.randn(2, 5)
        >>> replaced = torch.tensor([[0, 1, 0, 0, 0], [0, 0, 0, 1, 0]]).bool()
        >>> loss = replaced_token_detection_loss(logits, replaced, torch.ones(2, 5, dtype=torch.bool))
    """
    return F.binary_cross_entropy_with_logits(logits[mask].float(), replaced[mask].float())

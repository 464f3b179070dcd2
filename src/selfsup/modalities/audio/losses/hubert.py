r"""HuBERT's masked unit prediction loss (Hsu et al. 2021, Section III-A, eqs. 1-3).

For frames :math:`t` with target units :math:`z_t \in \{1..C\}`, the model's output :math:`o_t`
is projected (:math:`A o_t`) and scored against an embedding :math:`e_c` of every unit by cosine
similarity at temperature :math:`\tau` (0.1):

.. math::
    p(c \mid \tilde X, t) = \frac{\exp(\cos(A o_t, e_c) / \tau)}{\sum_{c'=1}^{C} \exp(\cos(A o_t, e_{c'}) / \tau)},
    \qquad
    L = \alpha \, L_m + (1 - \alpha) \, L_u,

with :math:`L_m = -\sum_{t \in M} \log p(z_t \mid \tilde X, t)` over the masked frames and
:math:`L_u` the same over the unmasked ones (HuBERT uses :math:`\alpha = 1`). Each sum is
averaged over its frames here (so :math:`\alpha` weighs two means).

Shapes: ``projected [B, T, D]``, ``unit_embeddings [C, D]``, ``targets [B, T]`` long,
``masked`` / ``valid`` bool ``[B, T]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def unit_logits(projected: torch.Tensor, unit_embeddings: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """``cos(A o_t, e_c) / tau`` for every frame and unit: ``[B, T, C]``."""
    return F.normalize(projected, dim=-1) @ F.normalize(unit_embeddings, dim=-1).T / temperature


def masked_unit_prediction(
    projected: torch.Tensor, unit_embeddings: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor,
    valid: torch.Tensor, temperature: float = 0.1, masked_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """``{"loss", "masked_loss", "unmasked_loss", "masked_accuracy"}`` (see the module doc)."""
    logits = unit_logits(projected, unit_embeddings, temperature)
    nll = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # [B, T]
    on_masked, on_unmasked = masked & valid, ~masked & valid

    def mean_over(where: torch.Tensor) -> torch.Tensor:
        return (nll * where).sum() / where.sum().clamp_min(1)

    masked_loss, unmasked_loss = mean_over(on_masked), mean_over(on_unmasked)
    loss = masked_weight * masked_loss + (1 - masked_weight) * unmasked_loss if masked_weight < 1 else masked_loss
    hits = (logits.argmax(dim=-1) == targets) & on_masked
    accuracy = hits.sum() / on_masked.sum().clamp_min(1)
    return {"loss": loss, "masked_loss": masked_loss, "unmasked_loss": unmasked_loss, "masked_accuracy": accuracy}

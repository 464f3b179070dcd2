r"""The loss of masked event modelling: every field of each masked event is predicted back
(the events analogue of BERT's masked-language-model loss, Devlin et al. 2019, Section 3.1,
"Task #1: Masked LM"): :func:`masked_event_loss`.

An event has categorical fields (classified over their training values; cross-entropy) and numeric
fields plus its time delta (standardised; squared error). Each field is one term, the mean over
the masked events whose target is known; the loss is the **mean of the terms**, so its scale does
not grow with the number of fields — what BERT's mean over masked tokens gives when every field of
an event is a token (TabBERT, Padhi et al. 2021).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def masked_event_loss(logits: Sequence[Tensor], numeric: Tensor, categorical_targets: Tensor,
                      numeric_targets: Tensor) -> dict[str, Tensor]:
    r"""Cross-entropy per categorical field and squared error per numeric column, averaged.

    For the :math:`M` masked events, categorical field :math:`f` with logits :math:`s^f` and
    targets :math:`y^f` (0: unknown, ignored; :math:`M_f` events have a known one) and numeric
    column :math:`g` (the numeric fields, then the time delta):

    .. math::
        \mathcal{L}^{cat}_f = -\frac{1}{M_f} \sum_{i : y^f_i \ne 0} \log \operatorname{softmax}(s^f_i)_{y^f_i},
        \qquad \mathcal{L}^{num}_g = \frac{1}{M} \sum_i (\hat v_{i,g} - v_{i,g})^2,

    and the loss is the mean of the :math:`F_c + F_n + 1` terms (a categorical field with no known
    target among the masked events has no term).

    Args:
        logits: one ``[M, K_f]`` tensor per categorical field (``K_f`` its cardinality, the
            unknown slot 0 included).
        numeric: ``[M, F_n + 1]`` predicted numeric fields and time delta.
        categorical_targets: ``[M, F_c]`` int64 true categories (0 = unknown).
        numeric_targets: ``[M, F_n + 1]`` true numeric values and time delta.

    Returns:
        ``{"loss", "categorical_loss", "numeric_loss"}``: the loss (0, attached to the graph, when
        ``M == 0``) and the means of its categorical and numeric terms (for logging).

    Example:
        >>> logits = [torch.randn(5, 11)]
        >>> terms = masked_event_loss(logits, torch.randn(5, 2), torch.randint(1, 11, (5, 1)), torch.randn(5, 2))
    """
    if len(logits) != categorical_targets.shape[1] or numeric.shape != numeric_targets.shape:
        raise ValueError(f"masked_event_loss expects one logit tensor per categorical target column and numeric "
                         f"predictions shaped like their targets; got {len(logits)} logit tensors for "
                         f"{tuple(categorical_targets.shape)} targets and {tuple(numeric.shape)} vs "
                         f"{tuple(numeric_targets.shape)}")
    categorical_terms = []
    for f, field_logits in enumerate(logits):
        target = categorical_targets[:, f]
        known = int((target != 0).sum())
        if known:
            categorical_terms.append(F.cross_entropy(field_logits, target, ignore_index=0, reduction="sum") / known)
    numeric_terms = list((numeric - numeric_targets).pow(2).mean(0)) if len(numeric) else []
    terms = categorical_terms + numeric_terms
    zero = numeric.sum() * 0.0 + sum(s.sum() for s in logits) * 0.0
    mean = lambda parts: torch.stack(parts).mean() if parts else zero
    return {"loss": mean(terms) if terms else zero, "categorical_loss": mean(categorical_terms).detach(),
            "numeric_loss": mean(numeric_terms).detach()}

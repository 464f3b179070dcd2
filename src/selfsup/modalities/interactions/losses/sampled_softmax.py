r"""In-batch sampled softmax with the log-Q correction (Yi et al. 2019, "Sampling-Bias-Corrected
Neural Modeling for Large Corpus Item Recommendations", Section 3, Eq. 3–5).

A batch of ``B`` (user, item) pairs; every user's positive is its own item, the other users' items
are its negatives. Items enter a batch in proportion to their popularity, so a popular item is a
negative far more often than under the full softmax; the correction subtracts the log of each
item's sampling probability :math:`p_j` from its logit:

.. math::
    s^c(u_i, v_j) = \frac{\langle u_i, v_j \rangle}{\tau} - \log p_j, \qquad
    \mathcal{L} = -\frac{1}{B} \sum_i \log \frac{\exp s^c(u_i, v_i)}{\sum_j \exp s^c(u_i, v_j)}.

An item that is the positive of two users of the batch would be its own negative; with
``item_ids`` those "accidental hits" (off the diagonal) are left out of the denominator
(TensorFlow Recommenders' ``remove_accidental_hits``).

Shapes: ``users [B, D]``, ``items [B, D]`` (normalised by the caller for the cosine form),
``log_q [B]`` (the log sampling probability of each row's item, or None: no correction),
``item_ids [B]`` (or None); returns a scalar.

Example:
    >>> u, v = torch.nn.functional.normalize(torch.randn(2, 16, 64), dim=-1).unbind(0)
    >>> loss = sampled_softmax(u, v, temperature=0.05)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def sampled_softmax(users: Tensor, items: Tensor, temperature: float, log_q: Tensor | None = None,
                    item_ids: Tensor | None = None) -> Tensor:
    """In-batch softmax cross-entropy of each user over the batch's items (module doc)."""
    logits = users @ items.T / temperature  # [B, B]
    if log_q is not None:
        logits = logits - log_q[None, :]
    if item_ids is not None:
        hits = item_ids[:, None] == item_ids[None, :]
        hits.fill_diagonal_(False)
        logits = logits.masked_fill(hits, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(users), device=users.device))

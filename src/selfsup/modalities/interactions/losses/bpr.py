r"""Bayesian personalised ranking (Rendle et al. 2009, BPR, Eq. 4–5).

For a user :math:`u`, an item :math:`i` it interacted with and an item :math:`j` it did not,

.. math::
    \mathcal{L}_{BPR} = -\frac{1}{B} \sum_{(u,i,j)} \log \sigma(\hat y_{ui} - \hat y_{uj}),
    \qquad \hat y_{ui} = e_u^\top e_i,

plus :math:`\lambda \lVert \Theta \rVert^2` on the parameters the batch used — in LightGCN
(He et al. 2020, Eq. 15) and the papers built on it, the layer-0 embeddings of the batch's
users and items, :math:`\frac{\lambda}{2B}\sum (\lVert e^{(0)}_u\rVert^2 + \lVert e^{(0)}_i\rVert^2
+ \lVert e^{(0)}_j\rVert^2)` (:func:`embedding_l2`).

Shapes: ``users, positives, negatives: [B, D]``; returns a scalar.

Example:
    >>> u, i, j = torch.randn(3, 8, 64).unbind(0)
    >>> loss = bpr_loss(u, i, j)
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def bpr_loss(users: Tensor, positives: Tensor, negatives: Tensor) -> Tensor:
    """Mean ``-log σ(u·i − u·j)`` over the batch (module doc)."""
    difference = (users * positives).sum(-1) - (users * negatives).sum(-1)
    return -F.logsigmoid(difference).mean()


def embedding_l2(*tables: Tensor) -> Tensor:
    """``Σ_t ||t||² / (2 B)`` over the ``[B, D]`` tables (LightGCN's regulariser, before λ)."""
    batch = tables[0].shape[0]
    return sum(t.pow(2).sum() for t in tables) / (2 * batch)

r"""VIME's self-supervised objective (Yoon, Zhang, Jordon, van der Schaar 2020, "VIME: Extending the
Success of Self- and Semi-supervised Learning to Tabular Domain", eq. 3-4): :func:`vime_terms`.

From the representation :math:`z = e(\tilde x)` of a masked-and-imputed row, a mask estimator
predicts which entries were replaced and a feature estimator reconstructs the original row:

.. math::
    \mathcal{L} = \mathbb{E}\Big[\underbrace{-\frac{1}{d}\sum_j m_j \log \hat m_j
        + (1-m_j)\log(1-\hat m_j)}_{\ell_m} + \alpha\,\underbrace{\frac{1}{d}\sum_j
        \ell_r(x_j, \hat x_j)}_{\ell_r}\Big]

with :math:`\ell_r` the squared error for numeric features and the cross-entropy for
categorical ones (the paper's choice per feature type). Here a numeric entry missing in the
original row has no target and is left out of :math:`\ell_r`. Per-row losses are local: no
statistics cross processes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def reconstruction_loss(
    numeric_pred: Tensor,
    numeric_target: Tensor,
    numeric_missing: Tensor,
    categorical_logits: list[Tensor],
    categorical_target: Tensor,
) -> Tensor:
    r""":math:`\ell_r`: the mean over features of the squared error (numeric columns, missing
    targets left out) and the cross-entropy (categorical columns). Shapes as in
    :func:`vime_terms`; also SubTab's reconstruction of the whole row from a feature subset."""
    per_feature = []
    if numeric_pred.shape[1]:
        valid = (~numeric_missing).to(numeric_pred.dtype)
        squared = (numeric_pred - numeric_target) ** 2 * valid
        per_feature.append(squared.sum(0) / valid.sum(0).clamp(min=1))  # [Fn]
    for j, logits in enumerate(categorical_logits):
        per_feature.append(F.cross_entropy(logits, categorical_target[:, j]).reshape(1))
    return torch.cat(per_feature).mean()


def vime_terms(
    mask_logits: Tensor,
    mask: Tensor,
    numeric_pred: Tensor,
    numeric_target: Tensor,
    numeric_missing: Tensor,
    categorical_logits: list[Tensor],
    categorical_target: Tensor,
    alpha: float = 2.0,
) -> dict[str, Tensor]:
    """``{"loss", "mask_loss", "reconstruction_loss"}``.

    Shapes: ``mask_logits``/``mask`` ``[B, F]`` (``F = Fn + Fc``, numeric first);
    ``numeric_pred``/``numeric_target``/``numeric_missing`` ``[B, Fn]``; ``categorical_logits``
    one ``[B, K_j]`` per categorical column; ``categorical_target`` ``[B, Fc]`` long.
    """
    mask_loss = F.binary_cross_entropy_with_logits(mask_logits, mask.to(mask_logits.dtype))
    reconstruction = reconstruction_loss(numeric_pred, numeric_target, numeric_missing, categorical_logits,
                                         categorical_target)
    return {"loss": mask_loss + alpha * reconstruction, "mask_loss": mask_loss,
            "reconstruction_loss": reconstruction}

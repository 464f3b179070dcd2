r"""SubTab's joint objective (Ucar, Hajiramezanali, Edwards, NeurIPS 2021, "SubTab: Subsetting
Features of Tabular Data for Self-Supervised Representation Learning", Section 3):
:func:`subtab_terms`.

A row is cut into :math:`K` feature subsets :math:`x_1 \dots x_K`; the shared encoder gives
:math:`z_k = E(x_k)`, the shared decoder reconstructs the **whole** row from each,
:math:`\hat x_k = D(z_k)`, and the projection head gives :math:`h_k = G(z_k)`. Then

.. math::
    \mathcal{L} = \frac{1}{K}\sum_k \ell_r(x, \hat x_k)
        + \frac{1}{|P|}\sum_{(i, j) \in P} \Big[\ell_{\mathrm{NT\text{-}Xent}}(h_i, h_j)
        + \lVert h_i - h_j \rVert_2^2 / d\Big]

over the pairs :math:`P` of subsets of the same rows: reconstruction
(:func:`~selfsup.modalities.tabular.losses.vime.reconstruction_loss`: squared error for numbers,
cross-entropy for categories), contrastive (SimCLR's NT-Xent between the subsets' projections,
negatives the other rows' subsets; gathered across processes by
:func:`~selfsup.losses.nt_xent.nt_xent`) and distance (mean squared error between the
projections of the same row's subsets). Each term has a weight (1 in the paper).
"""

from __future__ import annotations

from itertools import combinations

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.losses.nt_xent import nt_xent
from selfsup.modalities.tabular.losses.vime import reconstruction_loss


def subtab_terms(
    projections: list[Tensor],
    numeric_preds: list[Tensor],
    categorical_logits: list[list[Tensor]],
    numeric_target: Tensor,
    numeric_missing: Tensor,
    categorical_target: Tensor,
    temperature: float = 0.1,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> dict[str, Tensor]:
    """``{"loss", "reconstruction_loss", "contrastive_loss", "distance_loss"}``.

    Shapes: per subset ``k`` (``K >= 2`` of them): ``projections[k] [B, P]``,
    ``numeric_preds[k] [B, Fn]``, ``categorical_logits[k]`` one ``[B, K_j]`` per categorical
    column; the whole row's ``numeric_target``/``numeric_missing [B, Fn]`` and
    ``categorical_target [B, Fc]``. ``weights``: of reconstruction, contrastive, distance.
    """
    if len(projections) < 2:
        raise ValueError(f"SubTab needs at least 2 feature subsets, got {len(projections)}")
    reconstruction = torch.stack([
        reconstruction_loss(numeric, numeric_target, numeric_missing, logits, categorical_target)
        for numeric, logits in zip(numeric_preds, categorical_logits)
    ]).mean()
    pairs = list(combinations(range(len(projections)), 2))
    contrastive = torch.stack([nt_xent(projections[i], projections[j], temperature) for i, j in pairs]).mean()
    distance = torch.stack([F.mse_loss(projections[i], projections[j]) for i, j in pairs]).mean()
    w_reconstruction, w_contrastive, w_distance = weights
    loss = w_reconstruction * reconstruction + w_contrastive * contrastive + w_distance * distance
    return {"loss": loss, "reconstruction_loss": reconstruction, "contrastive_loss": contrastive,
            "distance_loss": distance}

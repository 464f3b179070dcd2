"""SigLIP for N modalities: the pairwise sigmoid loss over every pair of parts."""

from __future__ import annotations

from itertools import combinations
from typing import Any

from torch import Tensor, nn

from selfsup.losses.clip import siglip_loss
from selfsup.modalities.multimodal.methods.joint import JointMethod, pair_weights
from selfsup.registry import METHODS


@METHODS.register(
    "siglip", family="contrastive", modality="multimodal", needs=("parts",),
    paper="Zhai et al. 2023, Sigmoid Loss for Language Image Pre-Training",
)
class SigLIP(JointMethod):
    r"""SigLIP (Zhai, Mustafa, Kolesnikov, Beyer 2023): every (anchor, candidate) pair of the
    global batch is a binary classification, positive for the same sample:

    .. math::
        \mathcal{L}_{ab} = -\frac{1}{|\mathcal{B}|}\sum_i \sum_j \log\sigma\big(z_{ij}(t\,x_i^\top y_j + b)\big)

    (:func:`~selfsup.losses.clip.siglip_loss`) with a learnable inverse temperature :math:`t` and
    bias :math:`b`, over the pairs of parts (weights as :class:`~.clip.CLIP`'s; a weighted mean),
    each in one direction as in the paper (the first part of the pair anchors; on one process the
    sum over the whole :math:`B \times B` matrix is the same either way).

    Paper defaults vs. library defaults:
        * :math:`t' = \log 10` (temperature 0.1), :math:`b = -10`, batch 32k, no clamp stated.
        * Library: temperature 0.1, bias -10, scale clamped at 100 as CLIP's, no augmentation (as
          :class:`~.clip.CLIP`; ``augment=True`` for each part's default views).
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, temperature: float = 0.1, bias: float = -10.0,
                 max_scale: float = 100.0, learn_temperature: bool = True, weights: dict[str, float] | None = None,
                 augment: bool = False) -> None:
        super().__init__(encoder, views, temperature, max_scale, learn_temperature, augment, bias=float(bias))
        self.weights = pair_weights(encoder.names, weights)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = self.inputs(batch)
        z = self.encoder.joint(x)
        present = self.presence(x, list(z))
        scale, total, weight_sum, terms = self.scale(), 0.0, 0.0, {}
        for a, b in combinations(list(z), 2):
            weight = 1.0 if self.weights is None else self.weights[(a, b)]
            valid = present[a] & present[b]
            term = siglip_loss(z[a], z[b], scale, self.scale.bias, valid)
            terms[f"siglip_{a}_{b}"] = term.detach()
            total, weight_sum = total + weight * term, weight_sum + weight
        return {"loss": total / weight_sum, **terms, **self.temperature_logs()}

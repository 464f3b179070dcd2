"""LightGCN trained with BPR: the graph baseline every method here is compared with."""

from __future__ import annotations

from torch import nn

from selfsup.modalities.interactions.methods.base import BPRMethod
from selfsup.registry import METHODS


@METHODS.register("lightgcn", family="pretext",
                  paper="He et al. 2020, LightGCN: Simplifying and Powering Graph Convolution Network for "
                  "Recommendation", modality="interactions", default_encoder="lightgcn", default_views="none")
class LightGCNMethod(BPRMethod):
    r"""LightGCN (He, Deng, Wang, Li, Zhang, Wang 2020): BPR (Eq. 15) on the layer-averaged
    propagation of ID embeddings over the normalised user–item graph (Eq. 7–9; the ``lightgcn``
    encoder).

    Defaults (Section 4.1.2): 64-d embeddings, 3 layers, L2 weight :math:`\lambda = 10^{-4}` on the
    batch's layer-0 embeddings, Adam at 1e-3; batch 2048 in the recipe.
    """

    name = "lightgcn"

    def __init__(self, encoder: nn.Module, views: nn.Module, reg_weight: float = 1e-4) -> None:
        super().__init__(encoder, views, reg_weight)

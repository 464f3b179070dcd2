"""BPR-MF: matrix factorisation trained with the BPR loss."""

from __future__ import annotations

from torch import nn

from selfsup.modalities.interactions.methods.base import BPRMethod
from selfsup.registry import METHODS


@METHODS.register("bpr_mf", family="pretext",
                  paper="Rendle et al. 2009, BPR: Bayesian Personalized Ranking from Implicit Feedback",
                  modality="interactions", default_encoder="mf", default_views="none")
class BPRMF(BPRMethod):
    """BPR-MF (Rendle, Freudenthaler, Gantner, Schmidt-Thieme 2009): user and item vectors whose
    inner product ranks each user's items above uniformly drawn others (Eq. 4–5).

    Defaults: 64-d embeddings, L2 weight 1e-4 on the batch's embeddings (LightGCN's setting for
    its MF baseline, He et al. 2020 Section 4.1.2); batch 2048 and Adam at 1e-3 in the recipe.
    """

    name = "bpr_mf"

    def __init__(self, encoder: nn.Module, views: nn.Module, reg_weight: float = 1e-4) -> None:
        super().__init__(encoder, views, reg_weight)

"""SimGCL: graph contrastive recommendation with noise instead of graph augmentation."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from selfsup.modalities.interactions.losses.infonce import info_nce
from selfsup.modalities.interactions.methods.base import (
    SSL_WARMUP_STEPS,
    BPRMethod,
    batch_nodes,
    check_temperature,
)
from selfsup.registry import METHODS
from selfsup.validate import check_weight


@METHODS.register("simgcl", family="contrastive", paper="Yu et al. 2022, Are Graph Augmentations Necessary? "
                  "Simple Graph Contrastive Learning for Recommendation", modality="interactions",
                  default_encoder="lightgcn", default_views="none")
class SimGCL(BPRMethod):
    r"""SimGCL (Yu, Yin, Xia, Chen, Cui, Nguyen 2022): two propagations of the same graph, each with
    random noise added at every layer (Eq. 7, :func:`~..encoders.lightgcn.sign_aligned_noise`:
    norm :math:`\epsilon`, in the embedding's own orthant), contrasted with InfoNCE over the batch's
    distinct users and items; the recommendation loss is BPR on the clean propagation (Eq. 8).
    The authors' code averages the propagated layers without :math:`E^{(0)}` over 2 layers: the
    recipe ``configs/simgcl_ml-100k.yaml`` sets ``encoder: {name: lightgcn, layers: 2, keep_ego:
    false}``; without it the default ``lightgcn`` encoder (3 layers, :math:`E^{(0)}` in the mean)
    is used.

    Defaults (Section 4, the settings reported for Yelp2018 / Amazon-Book and the SELFRec
    configuration): :math:`\epsilon = 0.1`, :math:`\lambda = 0.5`, :math:`\tau = 0.2`, 2 layers,
    L2 weight 1e-4, 64-d embeddings; batch 2048, Adam at 1e-3 in the recipe. The contrast starts
    after ``ssl_warmup_steps`` (200) steps of BPR alone (not in the paper; :mod:`~.base` says why).
    """

    name = "simgcl"
    needs_graph = True

    def __init__(self, encoder: nn.Module, views: nn.Module, ssl_weight: float = 0.5, noise: float = 0.1,
                 temperature: float = 0.2, reg_weight: float = 1e-4,
                 ssl_warmup_steps: int = SSL_WARMUP_STEPS) -> None:
        super().__init__(encoder, views, reg_weight, ssl_warmup_steps)
        self.ssl_weight = check_weight(ssl_weight, "ssl_weight")
        self.noise = check_weight(noise, "noise")
        self.temperature = check_temperature(temperature)

    def ssl_terms(self, x: Any, layers: list[Tensor], users: Tensor, items: Tensor, step: int) -> dict[str, Tensor]:
        if not self.ssl_active(step):
            return {}
        first, second = (self.encoder.combine(self.encoder.propagate(noise=self.noise)) for _ in range(2))
        user_rows, item_rows = batch_nodes(x, self.encoder.num_users)
        contrast = (info_nce(first[user_rows], second[user_rows], self.temperature)
                    + info_nce(first[item_rows], second[item_rows], self.temperature))
        return {"ssl": self.ssl_weight * contrast}

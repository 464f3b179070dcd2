"""XSimGCL: SimGCL with one propagation and a cross-layer contrast."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import detach_logs
from selfsup.modalities.interactions.losses.bpr import bpr_loss, embedding_l2
from selfsup.modalities.interactions.losses.infonce import info_nce
from selfsup.modalities.interactions.methods.base import (
    SSL_WARMUP_STEPS,
    BPRMethod,
    batch_nodes,
    check_temperature,
)
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_weight


@METHODS.register("xsimgcl", family="contrastive", paper="Yu et al. 2023, XSimGCL: Towards Extremely Simple "
                  "Graph Contrastive Learning for Recommendation", modality="interactions",
                  default_encoder="lightgcn", default_views="none",
                  default_encoder_options={"layers": 2, "keep_ego": False})
class XSimGCL(BPRMethod):
    r"""XSimGCL (Yu, Xia, Yin, Chen, Nguyen, Cui 2023): one noisy propagation serves both tasks.
    BPR is computed on its final embeddings (the mean of the noisy layers, without
    :math:`E^{(0)}`), and the contrast pairs those final embeddings with the embeddings of one
    intermediate layer :math:`l^*` of the same pass (Eq. 10–11), instead of SimGCL's two extra
    propagations.

    Defaults (Section 5.1 and the authors' SELFRec configuration for Yelp2018): :math:`\epsilon =
    0.2`, :math:`\lambda = 0.2`, :math:`\tau = 0.15`, :math:`l^* = 1`, 2 layers, L2 weight 1e-4,
    64-d embeddings; batch 2048, Adam at 1e-3 in the recipe; under this method the ``lightgcn``
    encoder defaults to ``layers: 2, keep_ego: false`` (the plain ``lightgcn`` has 3 layers and
    keeps :math:`E^{(0)}` in the mean). Evaluation uses the clean propagation. The contrast starts after
    ``ssl_warmup_steps`` (200) steps of BPR alone (not in the paper; :mod:`~.base` says why).
    """

    name = "xsimgcl"
    needs_graph = True

    def __init__(self, encoder: nn.Module, views: nn.Module, ssl_weight: float = 0.2, noise: float = 0.2,
                 temperature: float = 0.15, contrast_layer: int = 1, reg_weight: float = 1e-4,
                 ssl_warmup_steps: int = SSL_WARMUP_STEPS) -> None:
        super().__init__(encoder, views, reg_weight, ssl_warmup_steps)
        self.ssl_weight = check_weight(ssl_weight, "ssl_weight")
        self.noise = check_weight(noise, "noise")
        self.temperature = check_temperature(temperature)
        self.contrast_layer = check_int(contrast_layer, "contrast_layer")
        if self.contrast_layer > encoder.layers:
            raise SelfsupError(f"xsimgcl: contrast_layer={contrast_layer} is beyond the encoder's {encoder.layers} layers.")

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = batch["x"]
        step = self.step_index(len(x))
        layers = self.encoder.propagate(noise=self.noise)
        final = self.encoder.combine(layers)
        users, items = self.encoder.split(final)
        ego_users, ego_items = self.encoder.split(layers[0])
        terms = {
            "bpr": bpr_loss(users[x.users], items[x.items], items[x.negatives]),
            "reg": self.reg_weight * embedding_l2(ego_users[x.users], ego_items[x.items], ego_items[x.negatives]),
        }
        if self.ssl_active(step):
            user_rows, item_rows = batch_nodes(x, self.encoder.num_users)
            cross = layers[self.contrast_layer]
            terms["ssl"] = self.ssl_weight * (info_nce(final[user_rows], cross[user_rows], self.temperature)
                                              + info_nce(final[item_rows], cross[item_rows], self.temperature))
        terms["loss"] = sum(terms.values())
        return detach_logs(terms)

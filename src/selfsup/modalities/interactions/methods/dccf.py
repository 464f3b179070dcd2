"""DCCF: disentangled contrastive collaborative filtering."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import detach_logs
from selfsup.modalities.interactions.encoders.dccf import IntentViews
from selfsup.modalities.interactions.losses.bpr import bpr_loss
from selfsup.modalities.interactions.losses.infonce import info_nce
from selfsup.modalities.interactions.methods.base import (
    SSL_WARMUP_STEPS,
    BPRMethod,
    batch_nodes,
    check_temperature,
)
from selfsup.registry import METHODS
from selfsup.validate import check_weight


def dccf_contrast(views: list[IntentViews], user_rows: Tensor, item_rows: Tensor, temperature: float) -> Tensor:
    r"""DCCF's contrast (Eq. 10): at every layer, the graph view :math:`Z` of the batch's distinct
    users (items) against each of the other three views, :math:`R`, :math:`H_Z`, :math:`H_R`, with
    the in-batch cosine InfoNCE (mean over the nodes); summed over the views, sides and layers."""
    total = 0.0
    for v in views:
        for rows in (user_rows, item_rows):
            anchor = v.graph[rows]
            for other in (v.intent, v.graph_adaptive, v.intent_adaptive):
                total = total + info_nce(anchor, other[rows], temperature)
    return total


@METHODS.register("dccf", family="contrastive", paper="Ren et al. 2023, Disentangled Contrastive Collaborative "
                  "Filtering", modality="interactions", default_encoder="dccf", default_views="none")
class DCCF(BPRMethod):
    r"""DCCF (Ren, Xia, Zhao, Yin, Huang, SIGIR 2023): the ``dccf`` encoder's intent-aware and
    adaptively augmented views (:mod:`~..encoders.dccf`) contrasted with its plain graph view.

    Loss (Eq. 11 and the authors' code): :math:`\mathcal{L}_{BPR}` on the final (layer-summed)
    embeddings :math:`+\ \lambda_1 \mathcal{L}_{SSL}` (:func:`dccf_contrast`) :math:`+\ \lambda_2
    \sum_{(u,i,j) \in B} (\lVert e^{(0)}_u\rVert^2 + \lVert e^{(0)}_i\rVert^2 + \lVert e^{(0)}_j\rVert^2)`
    (summed over the batch, not averaged, as in the code) :math:`+\ \lambda_3 (\lVert C_u\rVert^2 +
    \lVert C_i\rVert^2)` on the intent prototypes.

    Defaults (the authors' code, ``utility/parser.py``, the settings of the paper's Section 4):
    ``num_intents`` 128 and 2 layers (encoder), :math:`\tau = 1`, :math:`\lambda_1 = 0.1` (``ssl_weight``),
    :math:`\lambda_2 = 2.5 \cdot 10^{-5}` (``reg_weight``), :math:`\lambda_3 = 5 \cdot 10^{-3}`
    (``intent_reg_weight``), Adam at 1e-3. The paper's 32-d embeddings and batches of 10,240 are 64-d
    and 2048 in the recipe, as for every other method here. The contrast starts after
    ``ssl_warmup_steps`` (200) steps of BPR alone (not in the paper; :mod:`~.base` says why; on
    ml-100k at λ₁ = 0.1, 10 epochs: test Recall@20 0.249 without it, 0.268 with it).

    On ml-100k the contrast costs ranking rather than adding to it: after 10 epochs, validation
    (test) Recall@20 is 0.345 (0.357) without it, 0.343 (0.354) at λ₁ = 0.01, 0.332 (0.343) at 0.03
    and test 0.268 at the paper's 0.1, which spreads the top-20 over the long tail (share 0.42 vs
    0.004 for LightGCN). The intent-aware encoder with BPR alone is what beats LightGCN there
    (0.357 vs 0.194 after 10 epochs). The ml-100k recipe takes 0.01, the best non-zero weight on the
    validation split.
    """

    name = "dccf"
    needs_graph = True

    def __init__(self, encoder: nn.Module, views: nn.Module, ssl_weight: float = 0.1, temperature: float = 1.0,
                 reg_weight: float = 2.5e-5, intent_reg_weight: float = 5e-3,
                 ssl_warmup_steps: int = SSL_WARMUP_STEPS) -> None:
        super().__init__(encoder, views, reg_weight, ssl_warmup_steps)
        if not hasattr(encoder, "propagate_views"):
            raise SelfsupError(f"Method 'dccf' contrasts the intent views of its own encoder; {type(encoder).__name__} "
                               "has none. Use --encoder dccf (the method's default).")
        self.ssl_weight = check_weight(ssl_weight, "ssl_weight")
        self.temperature = check_temperature(temperature)
        self.intent_reg_weight = check_weight(intent_reg_weight, "intent_reg_weight")

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = self.triples(batch)
        step = self.step_index(len(x))
        encoder = self.encoder
        layers, views = encoder.propagate_views()
        users, items = encoder.split(encoder.combine(layers))
        ego_users, ego_items = encoder.split(layers[0])
        ego = (ego_users[x.users], ego_items[x.items], ego_items[x.negatives])
        terms = {
            "bpr": bpr_loss(users[x.users], items[x.items], items[x.negatives]),
            "reg": self.reg_weight * sum(e.pow(2).sum() for e in ego),
            "intent_reg": self.intent_reg_weight * (encoder.user_intents.pow(2).sum()
                                                    + encoder.item_intents.pow(2).sum()),
        }
        if self.ssl_active(step):
            user_rows, item_rows = batch_nodes(x, encoder.num_users)
            terms["ssl"] = self.ssl_weight * dccf_contrast(views, user_rows, item_rows, self.temperature)
        terms["loss"] = sum(terms.values())
        return detach_logs(terms)

"""SGL: self-supervised graph learning for recommendation."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from selfsup.modalities.interactions.losses.infonce import info_nce
from selfsup.modalities.interactions.methods.base import (
    SSL_WARMUP_STEPS,
    BPRMethod,
    batch_nodes,
    check_temperature,
    check_unit,
)
from selfsup.registry import METHODS
from selfsup.validate import check_weight

AUGMENTATIONS = ("edge", "node", "rw")


@METHODS.register("sgl", family="contrastive", paper="Wu et al. 2021, Self-supervised Graph Learning for "
                  "Recommendation", modality="interactions", default_encoder="lightgcn", default_views="none")
class SGL(BPRMethod):
    r"""SGL (Wu, Wang, Feng, He, Lian, Xie 2021): LightGCN with BPR plus a contrast between two
    randomly perturbed copies of the graph.

    Each epoch draws two subgraphs :math:`s_1, s_2` (Section 3.2.1): edge dropout (``"edge"``, SGL-ED),
    node dropout (``"node"``, SGL-ND) or, for random walk (``"rw"``, SGL-RW), edge dropout drawn anew
    for every layer. The batch's users (and items) embedded on both must match among the batch's
    other users (items), Eq. 10; the loss is :math:`\mathcal{L}_{BPR} + \lambda_1 (\mathcal{L}^{user}
    + \mathcal{L}^{item}) + \lambda_2 \lVert\Theta\rVert^2` (Eq. 11).

    Defaults (Section 4.1 and the authors' code): ``augmentation="edge"``, dropout ratio
    :math:`\rho = 0.1`, :math:`\tau = 0.2`, :math:`\lambda_1 = 0.1`, :math:`\lambda_2 = 10^{-4}`,
    3 layers, 64-d embeddings; batch 2048, Adam at 1e-3 in the recipe. The contrast starts after
    ``ssl_warmup_steps`` (200) steps of BPR alone (not in the paper; :mod:`~.base` says why). The in-batch InfoNCE
    (mean over the batch's distinct users and items) follows SELFRec's implementation.
    """

    name = "sgl"
    needs_graph = True

    def __init__(self, encoder: nn.Module, views: nn.Module, ssl_weight: float = 0.1, temperature: float = 0.2,
                 drop_ratio: float = 0.1, augmentation: str = "edge", reg_weight: float = 1e-4,
                 ssl_warmup_steps: int = SSL_WARMUP_STEPS) -> None:
        super().__init__(encoder, views, reg_weight, ssl_warmup_steps)
        if augmentation not in AUGMENTATIONS:
            raise ValueError(f"augmentation must be one of {', '.join(AUGMENTATIONS)}, got {augmentation!r}")
        self.ssl_weight = check_weight(ssl_weight, "ssl_weight")
        self.temperature = check_temperature(temperature)
        self.drop_ratio = check_unit(drop_ratio, "drop_ratio")
        self.augmentation = augmentation
        self._subgraphs: list[Any] = []

    def draw_subgraphs(self) -> list[Any]:
        """Two perturbed adjacencies (for ``rw``: two lists, one matrix per layer)."""
        graph = self.encoder.graph
        if self.augmentation == "rw":
            return [[graph.edge_dropout(self.drop_ratio) for _ in range(self.encoder.layers)] for _ in range(2)]
        return [graph.perturbed(self.augmentation, self.drop_ratio) for _ in range(2)]

    def ssl_terms(self, x: Any, layers: list[Tensor], users: Tensor, items: Tensor, step: int) -> dict[str, Tensor]:
        if not self.ssl_active(step):
            return {}
        if self.new_epoch(step) or not self._subgraphs:
            self._subgraphs = self.draw_subgraphs()
        first, second = (self.encoder.combine(self.encoder.propagate(a)) for a in self._subgraphs)
        user_rows, item_rows = batch_nodes(x, self.encoder.num_users)
        contrast = (info_nce(first[user_rows], second[user_rows], self.temperature)
                    + info_nce(first[item_rows], second[item_rows], self.temperature))
        return {"ssl": self.ssl_weight * contrast}

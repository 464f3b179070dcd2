"""NCL: neighbourhood-enriched contrastive learning for recommendation."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.modalities.interactions.losses.infonce import info_nce, prototype_nce
from selfsup.modalities.interactions.methods.base import (
    SSL_WARMUP_STEPS,
    BPRMethod,
    check_temperature,
)
from selfsup.nn.kmeans import spherical_kmeans
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_weight


@METHODS.register("ncl", family="contrastive", paper="Lin et al. 2022, Improving Graph Collaborative Filtering "
                  "with Neighborhood-enriched Contrastive Learning", modality="interactions",
                  default_encoder="lightgcn", default_views="none")
class NCL(BPRMethod):
    r"""NCL (Lin, Tian, Hou, Zhao 2022): LightGCN with BPR plus two neighbour contrasts.

    - **Structural neighbours** (Eq. 9–10): a node's layer-:math:`2k` embedding (its even-hop
      neighbours, ``hyper_layers`` :math:`k = 1`) and its own layer-0 embedding attract, against
      every other user's (item's) layer-0 embedding.
    - **Semantic neighbours** (Eq. 12–13): the layer-0 embeddings are clustered into
      ``num_clusters`` prototypes once per epoch (the E-step); each batch node attracts its
      prototype against every other prototype (the M-step), after ``warmup_epochs`` epochs.

    Loss: :math:`\mathcal{L}_{BPR} + \lambda_1 (\mathcal{L}_S^U + \alpha\mathcal{L}_S^I) + \lambda_2
    (\mathcal{L}_P^U + \alpha\mathcal{L}_P^I) + \lambda_3\lVert\Theta\rVert^2`, contrasts summed over
    the batch (the authors' code).

    Defaults (the authors' RecBole configuration): :math:`\tau = 0.1`, :math:`\lambda_1 = 10^{-7}`,
    :math:`\lambda_2 = 8 \cdot 10^{-8}`, :math:`\alpha = 1`, ``hyper_layers`` 1, 20 warm-up epochs,
    L2 weight 1e-4, 3 layers. ``num_clusters`` is 1000 there; it must stay below the number of
    users, so the library default is 100 (the ml-100k recipe; 943 users). Clustering: spherical
    k-means (:func:`selfsup.nn.kmeans.spherical_kmeans`, 10 iterations) instead of faiss's
    Euclidean k-means; the prototypes are normalised before the contrast in both. The structure
    contrast starts after ``ssl_warmup_steps`` (200) steps of BPR alone (not in the paper;
    :mod:`~.base` says why: even at λ₁ = 1e-7 it stalls BPR for 6+ epochs on ml-100k).
    """

    name = "ncl"
    needs_graph = True

    def __init__(self, encoder: nn.Module, views: nn.Module, structure_weight: float = 1e-7,
                 prototype_weight: float = 8e-8, temperature: float = 0.1, item_weight: float = 1.0,
                 hyper_layers: int = 1, num_clusters: int = 100, warmup_epochs: int = 20,
                 reg_weight: float = 1e-4, ssl_warmup_steps: int = SSL_WARMUP_STEPS) -> None:
        super().__init__(encoder, views, reg_weight, ssl_warmup_steps)
        self.structure_weight = check_weight(structure_weight, "structure_weight")
        self.prototype_weight = check_weight(prototype_weight, "prototype_weight")
        self.temperature = check_temperature(temperature)
        self.item_weight = check_weight(item_weight, "item_weight")
        self.hyper_layers = check_int(hyper_layers, "hyper_layers")
        self.num_clusters = check_int(num_clusters, "num_clusters", minimum=2)
        self.warmup_epochs = check_int(warmup_epochs, "warmup_epochs", minimum=0)
        if 2 * self.hyper_layers > encoder.layers:
            raise SelfsupError(f"ncl: hyper_layers={hyper_layers} contrasts layer {2 * hyper_layers}, beyond the "
                               f"encoder's {encoder.layers} layers.")
        smaller = min(encoder.num_users, encoder.num_items)
        if self.num_clusters >= smaller:
            raise SelfsupError(f"ncl: method.num_clusters={num_clusters} must be below the number of users and of "
                               f"items ({encoder.num_users:,} users and {encoder.num_items:,} items here); k-means "
                               f"cannot make more clusters than points. Set method.num_clusters to at most "
                               f"{smaller - 1:,}.")
        self.epoch = -1
        self.prototypes: tuple[Tensor, Tensor, Tensor, Tensor] | None = None

    @torch.no_grad()
    def cluster(self) -> None:
        """The E-step: prototypes of the layer-0 user and item embeddings."""
        users, items = self.encoder.split(self.encoder.ego().detach())
        generator = torch.Generator().manual_seed(self.epoch)
        user_centroids, user_assign = spherical_kmeans(users, self.num_clusters, generator=generator)
        item_centroids, item_assign = spherical_kmeans(items, self.num_clusters, generator=generator)
        self.prototypes = (user_centroids, user_assign, item_centroids, item_assign)

    def ssl_terms(self, x: Any, layers: list[Tensor], users: Tensor, items: Tensor, step: int) -> dict[str, Tensor]:
        epoch = self.epoch_of(step)
        if epoch >= self.warmup_epochs and (self.new_epoch(step) or self.prototypes is None):
            self.epoch = epoch
            self.cluster()
        if not self.ssl_active(step):
            return {}
        ego_users, ego_items = self.encoder.split(layers[0])
        hop_users, hop_items = self.encoder.split(layers[2 * self.hyper_layers])
        u, i = torch.unique(x.users), torch.unique(x.items)
        structure = (info_nce(hop_users[u], ego_users[u], self.temperature, candidates=ego_users, reduction="sum")
                     + self.item_weight * info_nce(hop_items[i], ego_items[i], self.temperature,
                                                   candidates=ego_items, reduction="sum"))
        terms = {"ssl_structure": self.structure_weight * structure}
        if self.prototypes is not None:
            user_c, user_a, item_c, item_a = self.prototypes
            prototype = (prototype_nce(ego_users[u], user_a[u], user_c, self.temperature)
                         + self.item_weight * prototype_nce(ego_items[i], item_a[i], item_c, self.temperature))
            terms["ssl_prototype"] = self.prototype_weight * prototype
        return terms

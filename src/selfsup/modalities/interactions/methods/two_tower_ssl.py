"""Two-tower SSL: the two-tower retrieval model with Yao et al.'s item-side contrast of
correlated-feature-masked views."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.modalities.interactions.losses.infonce import info_nce
from selfsup.modalities.interactions.masking import (
    correlated_masks,
    feature_mutual_information,
    random_masks,
)
from selfsup.modalities.interactions.methods.base import check_temperature, check_unit
from selfsup.modalities.interactions.methods.two_tower import TwoTowerRetrieval
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_weight

MASKINGS = ("correlated", "random")


@METHODS.register("two_tower_ssl", family="contrastive",
                  paper="Yao et al. 2021, Self-supervised Learning for Large-scale Item Recommendations",
                  modality="interactions", default_encoder="two_tower", default_views="none")
class TwoTowerSSL(TwoTowerRetrieval):
    r"""Two-tower SSL (Yao, Yi, Cheng, Yu, Chen, Menon, Hong, Chi, Tjoa, Kang, Ettinger; CIKM 2021):
    the retrieval loss of :class:`~.two_tower.TwoTowerRetrieval` plus a contrast on the item tower,

    .. math:: \mathcal{L} = \mathcal{L}_{main} + \alpha\, \mathcal{L}_{self}, \qquad
       \mathcal{L}_{self} = -\frac{1}{N} \sum_i \log
       \frac{\exp(s(z_i, z'_i)/\tau)}{\sum_j \exp(s(z_i, z'_j)/\tau)}

    (Eq. 1 and 5) over ``N`` items: :math:`z_i, z'_i` are the item tower's outputs for two
    augmentations of item :math:`i`, :math:`s` the cosine similarity, the other items of the
    batch the negatives (:func:`~..losses.infonce.info_nce`). The augmentation has two stages
    (Section 3.2): **masking** — complementary halves of the item's features are masked in the two
    views, chosen by Correlated Feature Masking (``masking: correlated``, the paper's proposal: a
    seed feature and those of highest mutual information with it, :mod:`~..masking`) or at random
    (``masking: random``, RFM) — then **dropout** of each value of a multi-valued feature
    (ml-100k's genres) with probability ``token_dropout``. A masked feature's embedding is zero.

    The SSL items are drawn **uniformly** from the catalogue, without repeats (``ssl_batch_size``
    of them, default the training batch's size, at most the catalogue), not from the training pairs: the retrieval batch follows the
    head-heavy popularity of the interactions, and the paper's point (Section 3.4, "heterogeneous
    sample distribution") is that the contrast should teach the tail items' features as much as the
    head's. Items without training interactions (cold items) are drawn too.

    Defaults: :math:`\tau = 0.1` for the contrast (the paper's setting); masking: correlated;
    :math:`\alpha` = ``ssl_weight`` 1.0, chosen on ml-100k's validation split (the paper tunes
    :math:`\alpha` per data set): Recall@20 after 20 epochs 0.327 / 0.328 / 0.334 / 0.329 for
    :math:`\alpha` = 0.1 / 0.3 / 1 / 3 (random instead of correlated masking at 0.3: 0.328);
    ``token_dropout`` 0.1 (our choice, not tuned); the retrieval loss's own temperature 0.05 as in
    ``two_tower``. The ID embedding counts as one of the item's features (masked like the others)
    when the encoder has ``use_ids``.
    """

    name = "two_tower_ssl"

    def __init__(self, encoder: nn.Module, views: nn.Module, ssl_weight: float = 1.0, ssl_temperature: float = 0.1,
                 masking: str = "correlated", token_dropout: float = 0.1, ssl_batch_size: int | None = None,
                 temperature: float = 0.05, logq_correction: bool = True, remove_accidental_hits: bool = True) -> None:
        super().__init__(encoder, views, temperature, logq_correction, remove_accidental_hits)
        if masking not in MASKINGS:
            raise SelfsupError(f"method.masking is one of {', '.join(MASKINGS)}; got {masking!r}.")
        features = int(getattr(encoder, "num_item_features", 0))
        if features < 2:
            raise SelfsupError(f"Method {self.name!r} contrasts two views of an item that mask complementary halves "
                               f"of its features; the item tower has {features} feature(s). Give the data an item "
                               "feature table (data.options.item_features), or train two_tower.")
        self.ssl_weight = check_weight(ssl_weight, "ssl_weight")
        self.ssl_temperature = check_temperature(ssl_temperature)
        self.token_dropout = check_unit(token_dropout, "token_dropout")
        self.ssl_batch_size = None if ssl_batch_size is None else check_int(ssl_batch_size, "ssl_batch_size", minimum=2)
        self.masking = masking
        # MI between the item features over the catalogue (CFM), a buffer so a checkpoint keeps it
        self.register_buffer("mutual_information", feature_mutual_information(encoder.item_feature_codes()).float())

    def views_masks(self, batch: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """The two views' complementary feature masks ``([N, F], [N, F])``."""
        if self.masking == "correlated":
            return correlated_masks(self.mutual_information, batch, device)
        return random_masks(self.mutual_information.shape[0], batch, device)

    def ssl_terms(self, x: Any) -> dict[str, Tensor]:
        device = x.items.device
        # uniform over the catalogue, without repeats (a repeated item would be its own negative)
        items = torch.randperm(self.encoder.num_items, device=device)[:self.ssl_batch_size or len(x)]
        n = len(items)
        first, second = self.views_masks(n, device)
        z1 = self.encoder.encode_items(items, first, self.token_dropout)
        z2 = self.encoder.encode_items(items, second, self.token_dropout)
        return {"ssl": self.ssl_weight * info_nce(z1, z2, self.ssl_temperature)}

"""VIME (self-supervised part): estimate which entries were masked, and reconstruct the row."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method, detach_logs
from selfsup.modalities.tabular.data.batch import TabularSpec
from selfsup.modalities.tabular.losses.vime import vime_terms
from selfsup.registry import METHODS
from selfsup.validate import check_weight


@METHODS.register(
    "vime",
    family="masked modelling",
    paper="Yoon et al. 2020, VIME: Extending the Success of Self- and Semi-supervised Learning to Tabular Domain",
    modality="tabular",
    default_encoder="tabular_mlp",
    default_views="vime_mask",
)
class VIME(Method):
    r"""VIME self-supervised learning (Yoon, Zhang, Jordon, van der Schaar, NeurIPS 2020, Section 4.1).

    A mask :math:`m \sim \mathrm{Bern}(p_m)` per entry and the masked-and-imputed row
    :math:`\tilde x = m \odot \bar x + (1 - m) \odot x` (:math:`\bar x` from the columns'
    empirical marginals) come from the views (``vime_mask``: ``"x"`` is :math:`\tilde x`,
    ``"corrupted"`` is :math:`m`). The encoder :math:`e` maps :math:`\tilde x` to :math:`z`;
    the mask estimator :math:`s_m` and the feature estimator :math:`s_r` are linear heads on
    :math:`z`, trained with :math:`\ell_m + \alpha \ell_r` (eq. 3-4,
    :func:`~selfsup.modalities.tabular.losses.vime.vime_terms`).

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` (default ``tabular_mlp``).
        views: a tabular view maker that reports the ``"corrupted"`` entries (default
            ``vime_mask``).
        alpha: weight :math:`\alpha` of the reconstruction loss.

    Paper defaults vs. library defaults:
        * :math:`p_m = 0.3` and :math:`\alpha = 2.0` (the authors' released defaults; the paper
          searches :math:`\alpha \in \{0.1, \dots, 10\}`); library: the same.
        * encoder: one ReLU layer as wide as the input; heads: one sigmoid/linear layer each;
          batch 128, 10 epochs, RMSProp. Library: ``tabular_mlp`` (4 × 256), linear heads,
          the engine's optimiser and the recipe's schedule (``configs/vime_adult.yaml``).
        * the semi-supervised part (consistency over augmented labeled rows) is not here: the
          evaluation probes the frozen encoder.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, alpha: float = 2.0) -> None:
        super().__init__(encoder, views)
        self.alpha = check_weight(alpha, "alpha")
        spec = getattr(views, "input_spec", None) or getattr(encoder, "input_spec", None)
        if not isinstance(spec, TabularSpec):
            raise SelfsupError("Method 'vime' reconstructs table rows: it needs tabular views (e.g. 'vime_mask') "
                               "or a tabular encoder, and tabular data.")
        self.input_spec = spec
        dim = self.embed_dim
        self.mask_estimator = nn.Linear(dim, spec.num_features)
        self.numeric_estimator = nn.Linear(dim, len(spec.numeric))
        self.categorical_estimators = nn.ModuleList(nn.Linear(dim, c) for c in spec.cardinalities)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        (view,) = self.views(batch, 1)
        if "corrupted" not in view:
            raise SelfsupError("Method 'vime' needs views that say which entries they replaced (the 'corrupted' key): "
                               "use vime_mask, swap_noise or scarf views.")
        original = batch["x"]
        z = self.encoder(view["x"])  # e(x~)
        terms = vime_terms(
            self.mask_estimator(z), view["corrupted"],
            self.numeric_estimator(z), original.numeric, original.missing,
            [head(z) for head in self.categorical_estimators], original.categorical,
            self.alpha,
        )
        return detach_logs(terms)

"""SubTab: reconstruct the whole row from each feature subset, and pull the subsets together."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method, detach_logs
from selfsup.modalities.tabular.data.batch import TabularSpec
from selfsup.modalities.tabular.losses.subtab import subtab_terms
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_positive, check_weight


@METHODS.register(
    "subtab",
    family="masked modelling",
    paper="Ucar et al. 2021, SubTab: Subsetting Features of Tabular Data for Self-Supervised Representation Learning",
    modality="tabular",
    default_encoder="tabular_mlp",
    default_views="subtab",
)
class SubTab(Method):
    r"""SubTab (Ucar, Hajiramezanali, Edwards, NeurIPS 2021).

    The ``subtab`` views cut the columns into :math:`K` overlapping blocks and show one block
    per view, with noise added to the shown entries (Section 3, "feature subsets"); every row's
    :math:`K` views show its :math:`K` different blocks. A shared encoder :math:`E` maps each
    subset to :math:`z_k`; a decoder :math:`D` reconstructs the **whole** row from each
    :math:`z_k` (not just the subset: the paper's finding is that this works better); a
    projection :math:`G` gives :math:`h_k` for the contrastive and distance losses between the
    subsets of the same row (:func:`~selfsup.modalities.tabular.losses.subtab.subtab_terms`):

    .. math::
        \mathcal{L} = \mathcal{L}_r + \mathcal{L}_c + \mathcal{L}_d

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` (default ``tabular_mlp``).
        views: the feature-subset views (``subtab``; its ``num_subsets`` is :math:`K`).
        projector_dim: output width of :math:`G` (a 2-layer MLP, hidden width :math:`D`).
        temperature: NT-Xent's :math:`\tau`.
        reconstruction_weight / contrastive_weight / distance_weight: the terms' weights.

    Paper defaults (Section 4 and the authors' released configuration) vs. library defaults:
        * K = 4 subsets with 75 % overlap, noise on 30 % of the shown entries; library: the
          same (the ``subtab`` views, swap noise from the batch's marginals).
        * all three losses with weight 1, NT-Xent with :math:`\tau = 0.1`; library: the same.
        * encoder and decoder: MLPs; library: ``tabular_mlp`` (4 x 256) and linear decoder heads
          (one per numeric column group, one per categorical column, as VIME's).
        * evaluation: "collaborative inference", the mean of the :math:`K` subsets' latents;
          library: the run keeps the encoder alone, which the evaluation applies to the whole
          row (every column shown).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_dim: int = 128,
        temperature: float = 0.1,
        reconstruction_weight: float = 1.0,
        contrastive_weight: float = 1.0,
        distance_weight: float = 1.0,
    ) -> None:
        super().__init__(encoder, views)
        check_int(projector_dim, "projector_dim")
        check_positive(temperature=temperature)
        self.temperature = float(temperature)
        self.weights = (check_weight(reconstruction_weight, "reconstruction_weight"),
                        check_weight(contrastive_weight, "contrastive_weight"),
                        check_weight(distance_weight, "distance_weight"))
        spec = getattr(views, "input_spec", None) or getattr(encoder, "input_spec", None)
        if not isinstance(spec, TabularSpec):
            raise SelfsupError("Method 'subtab' reconstructs table rows: it needs tabular views (e.g. 'subtab') "
                               "or a tabular encoder, and tabular data.")
        self.num_subsets = int(getattr(views, "num_subsets", 4))
        if self.num_subsets < 2:
            raise SelfsupError("Method 'subtab' needs views with at least 2 feature subsets (views.num_subsets >= 2).")
        dim = self.embed_dim
        self.numeric_decoder = nn.Linear(dim, len(spec.numeric))
        self.categorical_decoders = nn.ModuleList(nn.Linear(dim, c) for c in spec.cardinalities)
        self.projector = MLP(dim, dim, projector_dim, num_layers=2)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        subsets = self.views(batch, self.num_subsets)
        latents = [self.encoder(subset["x"]) for subset in subsets]  # z_k = E(x_k)
        original = batch["x"]
        terms = subtab_terms(
            [self.projector(z) for z in latents],
            [self.numeric_decoder(z) for z in latents],
            [[head(z) for head in self.categorical_decoders] for z in latents],
            original.numeric, original.missing, original.categorical,
            self.temperature, self.weights,
        )
        return detach_logs(terms)

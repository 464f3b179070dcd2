"""CoLES: sub-sequences of one entity's event history are positives, other entities' negatives."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.methods.base import Method
from selfsup.modalities.events.losses.coles import coles_loss
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_positive


@METHODS.register(
    "coles",
    family="contrastive",
    paper="Babaev et al. 2022, CoLES: Contrastive Learning for Event Sequences with Self-Supervision",
    modality="events",
    default_encoder="event_gru",
    default_views="coles_slices",
)
class CoLES(Method):
    r"""CoLES (Babaev, Ovsov, Kireev, Ivanova, Gusev, Nazarov, Tuzhilin, SIGMOD 2022).

    For every entity of the batch, ``num_views`` random slices of its event sequence (the
    ``coles_slices`` views, Section 3 "random slices") go through one encoder :math:`f`; the
    embeddings :math:`c = f(x) / \lVert f(x) \rVert` (L2-normalised, no projection head) of slices
    of the same entity are pulled together and the nearest ones of other entities pushed beyond a
    margin (:func:`~selfsup.modalities.events.losses.coles.coles_loss`):

    .. math::
        \mathcal{L}_{uv} = Y_{uv}\, \tfrac12 d_{uv}^2 + (1 - Y_{uv})\, \tfrac12 \max(0, \rho - d_{uv})^2

    The representation kept is the encoder's output (for ``event_gru``: the GRU's last hidden
    state). CoLES is not an InfoNCE variant, so it subclasses :class:`Method` rather than SimCLR;
    SimCLR, MV-InfoNCE, BYOL, VICReg … run unchanged on the same slices (the modality's default views).

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` (default ``event_gru``).
        views: ``views(batch, k)`` -> ``k`` views (default ``coles_slices``).
        num_views: sub-sequences per entity :math:`k`.
        margin: :math:`\rho`.
        negatives: hard negatives per anchor.
        normalize: L2-normalise the embeddings before the loss.

    Paper defaults vs. library defaults (the paper's Section 3 and its released configuration, as
    pytorch-lifestream documents it: ``ContrastiveLoss(margin=0.5, HardNegativePairSelector(
    neg_count=5))`` with an L2-normalising head):
        * :math:`k = 5` sub-sequences; library: the same.
        * :math:`\rho = 0.5`, 5 hard negatives; library: the same.
        * GRU encoder, last hidden state, hidden size tuned per data set (800 on age group);
          library: ``event_gru`` with 256 units.
        * batches of 64 entities, Adam; library: the engine's optimiser and ``--batch-size``.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, num_views: int = 5, margin: float = 0.5,
                 negatives: int = 5, normalize: bool = True) -> None:
        super().__init__(encoder, views)
        self.num_views = check_int(num_views, "num_views", minimum=2)
        check_positive(margin=margin)
        self.margin = float(margin)
        self.negatives = check_int(negatives, "negatives", minimum=0)
        if not isinstance(normalize, bool):
            raise TypeError(f"normalize must be true or false, got {normalize!r}")
        self.normalize = normalize

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        views = self.views(batch, self.num_views)
        z = torch.cat([self.encoder(view["x"]) for view in views])  # [k * B, D], view-major
        if self.normalize:
            z = F.normalize(z, dim=1)
        entity = batch.get("index")
        if entity is None:
            entity = torch.arange(len(views[0]["x"]), device=z.device)
        groups = entity.to(z.device).repeat(self.num_views)
        loss = coles_loss(z, groups, self.margin, self.negatives)
        size = z.shape[0] // self.num_views
        positive = (z[:size] - z[size:2 * size]).norm(dim=1).mean().detach()
        return {"loss": loss, "positive_distance": positive}

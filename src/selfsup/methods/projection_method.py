"""The base of the InfoNCE-family methods: views -> encoder -> projection head, plus a loss.

:class:`ProjectionMethod` holds SimCLR's pipeline (encoder :math:`f`, projection head
:math:`g` = ``Linear-BN-ReLU-Linear``, a temperature) for the methods that differ from SimCLR
only in the loss: SimCLR itself (:mod:`selfsup.methods.simclr`), DCL and DCLW, Debiased
Contrastive Learning, MV-InfoNCE, SupCon and iSogCLR. It registers nothing.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.methods.base import Method
from selfsup.nn.heads import MLP
from selfsup.validate import check_int, check_positive


class ProjectionMethod(Method):
    """Encoder + SimCLR projection head (``Linear-BN-ReLU-Linear``); subclasses add the loss.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, n) -> [view_1, ..., view_n]``.
        projector_hidden_dim: hidden width of the projection head :math:`g`.
        projector_dim: output width of :math:`g`.
        temperature: the loss's temperature :math:`\\tau > 0`, kept as ``self.temperature``;
            None for a method without a single temperature (iSogCLR learns one per sample).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int,
        projector_dim: int,
        temperature: float | None = None,
    ) -> None:
        super().__init__(encoder, views)
        check_int(projector_hidden_dim, "projector_hidden_dim")
        check_int(projector_dim, "projector_dim")
        if temperature is not None:
            check_positive(temperature=temperature)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=2)
        self.temperature = temperature

    def project(self, batch: dict[str, Any], num_views: int = 2) -> list[Tensor]:
        """``z = g(f(v))`` for ``num_views`` random views; views are encoded one at a time so
        any batch structure (padded sequences, graph batches) passes through untouched."""
        return [self.projector(self.encoder(view["x"])) for view in self.views(batch, num_views)]


def positive_cosine(z1: Tensor, z2: Tensor) -> Tensor:
    """Mean cosine similarity of the positive pairs ``z1[i], z2[i]`` (``[B, D]``), detached:
    the alignment every variant logs."""
    return F.cosine_similarity(z1, z2, dim=-1).mean().detach()

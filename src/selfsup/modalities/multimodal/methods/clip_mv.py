"""MV-InfoNCE with the modalities as the views: one contrastive term per sample over all its parts."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.losses.mv_infonce import mv_infonce_loss
from selfsup.modalities.multimodal.methods.joint import JointMethod
from selfsup.nn.gather import is_distributed
from selfsup.registry import METHODS
from selfsup.validate import check_positive_number


@METHODS.register(
    "clip_mv", family="contrastive", modality="multimodal", needs=("parts",),
    paper="Koromilas et al. 2025, A Principled Framework for Multi-View Contrastive Learning (modalities as views)",
)
class CLIPMultiView(JointMethod):
    r"""MV-InfoNCE (Koromilas et al. 2025; :func:`~selfsup.losses.mv_infonce.mv_infonce_loss`) over the
    joint embeddings of the :math:`M` parts of each sample: instead of a sum of pairwise CLIP terms,
    one term per sample aligns all its parts at once, with every other embedding of the batch (of
    any part) as a negative. Samples missing a part are left out of the batch's term (on one
    process; several processes need every sample complete, since the gathered batches must be equal).

    Paper defaults vs. library defaults:
        * The paper: views of one image, temperature 0.5 with batch 256, SimCLR's head.
        * Library: the parts as the views (as they come; ``augment=True`` for one view of each through
          its modality's views), a fixed temperature 0.1 (cross-modal joint spaces train at CLIP-like
          temperatures), no extra head.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, temperature: float = 0.1, augment: bool = False) -> None:
        super().__init__(encoder, views, check_positive_number(temperature, "temperature"), learn_temperature=False,
                         augment=augment)
        self.temperature = float(temperature)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = self.inputs(batch)
        z = self.encoder.joint(x)
        complete = torch.stack(list(self.presence(x, list(z)).values())).all(0)
        if not bool(complete.all()):
            if is_distributed():
                raise SelfsupError("clip_mv needs every sample to have every part when training on several "
                                   "processes; use clip, which pairs the parts that exist.")
            z = {name: value[complete] for name, value in z.items()}
        if int(complete.sum()) < 2:
            return {"loss": sum(value.sum() for value in z.values()) * 0.0}
        return {"loss": mv_infonce_loss(list(z.values()), self.temperature)}

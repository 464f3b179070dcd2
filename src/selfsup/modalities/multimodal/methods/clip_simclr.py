"""CLIP plus a SimCLR term within each modality (SLIP, generalised to N parts)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.losses.clip import multimodal_clip_loss
from selfsup.losses.nt_xent import nt_xent
from selfsup.modalities.multimodal.methods.joint import JointMethod, pair_weights
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS
from selfsup.validate import check_positive_number


@METHODS.register(
    "clip_simclr", family="contrastive", modality="multimodal", needs=("parts",),
    paper="Mu et al. 2022, SLIP: Self-supervision meets Language-Image Pre-training",
)
class CLIPSimCLR(JointMethod):
    r"""SLIP (Mu, Kirillov, Wagner, Xie 2022): CLIP between the parts plus, within each part, SimCLR
    between two views of it,

    .. math:: \mathcal{L} = \mathcal{L}_{\mathrm{CLIP}} + c\,\frac1M\sum_m \mathrm{NT\text{-}Xent}(g_m(h_m^{(1)}), g_m(h_m^{(2)}))

    where :math:`h_m^{(v)}` is part :math:`m`'s pooled embedding of view :math:`v` and :math:`g_m` its
    own SimCLR projection head. The CLIP term uses the first view of every part. A part's SimCLR
    term uses its present samples only when every sample has it (otherwise the missing rows are
    filler inputs, and the term is skipped for that batch).

    Paper defaults vs. library defaults:
        * SLIP: :math:`c = 1`, SimCLR temperature 0.1, a 3-layer MLP head (4096 wide, 256 out) on the
          image side only; CLIP's temperature 0.07.
        * Library: :math:`c = 1` on every part, temperature 0.1, a 2-layer head (512 wide, 128 out,
          CPU-sized), CLIP's 0.07.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, temperature: float = 0.07, max_scale: float = 100.0,
                 learn_temperature: bool = True, weights: dict[str, float] | None = None,
                 ssl_weight: float = 1.0, ssl_temperature: float = 0.1, projector_hidden_dim: int = 512,
                 projector_dim: int = 128) -> None:
        super().__init__(encoder, views, temperature, max_scale, learn_temperature, augment=True)
        self.weights = pair_weights(encoder.names, weights)
        self.ssl_weight = float(ssl_weight)
        if self.ssl_weight < 0:
            raise ValueError(f"ssl_weight must be >= 0, got {ssl_weight}")
        self.ssl_temperature = check_positive_number(ssl_temperature, "ssl_temperature")
        self.heads = nn.ModuleDict({
            name: MLP(int(part.output_dim), projector_hidden_dim, projector_dim, num_layers=2)
            for name, part in encoder.parts.items()
        })

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        first, second = (view["x"] for view in self.views(batch, 2))
        h1, h2 = self.encoder.encode(first), self.encoder.encode(second)
        present = self.presence(first, list(h1))
        clip, terms = multimodal_clip_loss(self.encoder.project(h1), self.scale(), self.weights, present)
        ssl = []
        for name, head in self.heads.items():
            if bool(present[name].all()):
                term = nt_xent(head(h1[name]), head(h2[name]), self.ssl_temperature)
                terms[f"simclr_{name}"] = term.detach()
                ssl.append(term)
        ssl_loss = torch.stack(ssl).mean() if ssl else clip.new_zeros(())
        return {"loss": clip + self.ssl_weight * ssl_loss, "clip": clip.detach(), **terms, **self.temperature_logs()}

"""CLIP for N modalities: the symmetric InfoNCE of every pair of parts in one joint space."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from selfsup.losses.clip import multimodal_clip_loss
from selfsup.modalities.multimodal.methods.joint import JointMethod, pair_weights
from selfsup.registry import METHODS


@METHODS.register(
    "clip", family="contrastive", modality="multimodal", needs=("parts",),
    paper="Radford et al. 2021, CLIP; Rizhko & Bloom 2024, AstroM³ (every pair of N modalities)",
)
class CLIP(JointMethod):
    r"""CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
    Supervision") over every pair of the data's parts, as AstroM³ (Rizhko & Bloom 2024) does for
    photometry, spectra and metadata:

    .. math::
        \mathcal{L} = \frac{\sum_{a<b} w_{ab}\,\tfrac12\big(\mathrm{CE}(s\,Z_a Z_b^\top, I)
            + \mathrm{CE}(s\,Z_b Z_a^\top, I)\big)}{\sum_{a<b} w_{ab}}

    with :math:`Z_m` the l2-normalised joint embeddings of part :math:`m` (each part's encoder and a
    linear projection), :math:`s = e^{t}` the learned logit scale clamped at 100, and negatives from
    the global batch. With two parts it is CLIP. A pair's term uses the samples that have both parts.

    Args:
        encoder, views: the paired encoder and views.
        temperature: initial :math:`1/s`.
        max_scale: the clamp of :math:`s`.
        learn_temperature: learn :math:`s` (else fixed at ``1/temperature``).
        weights: ``{"a-b": w}`` per pair of parts (default: all 1).
        augment: one view of each part per step (its modality's views); False feeds the parts as they are.

    Paper defaults vs. library defaults:
        * CLIP: temperature initialised to 0.07, logit scale clipped at 100, batch 32,768, no augmentation
          but a random square crop, linear projections to the joint space. AstroM³: the same loss
          summed over the three pairs with equal weights.
        * Library: 0.07, 100, all weights 1, joint space 128 (the encoder's ``joint_dim``), no augmentation
          (``augment=True`` takes each part's default views; on ``synthetic_astro`` those — SCARF's 60 %
          corruption of the metadata, crops of the series — kept the loss at chance for 60 steps, while
          without them it fell from 5.5 to 4.2).
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, temperature: float = 0.07, max_scale: float = 100.0,
                 learn_temperature: bool = True, weights: dict[str, float] | None = None, augment: bool = False) -> None:
        super().__init__(encoder, views, temperature, max_scale, learn_temperature, augment)
        self.weights = pair_weights(encoder.names, weights)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = self.inputs(batch)
        z = self.encoder.joint(x)
        loss, terms = multimodal_clip_loss(z, self.scale(), self.weights, self.presence(x, list(z)))
        return {"loss": loss, **terms, **self.temperature_logs()}

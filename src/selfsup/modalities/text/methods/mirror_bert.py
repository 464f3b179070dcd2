"""Mirror-BERT: a text and its copy, under dropout and with one span masked, are a positive pair
(Liu, Vulić, Korhonen, Collier 2021)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.losses.nt_xent import nt_xent
from selfsup.methods.base import Method
from selfsup.modalities.text.methods.heads import count, encoder_spec, fraction
from selfsup.modalities.text.views.ops import mask_one_span
from selfsup.registry import METHODS


@METHODS.register(
    "mirror_bert",
    family="contrastive",
    modality="text",
    paper="Liu, Vulić, Korhonen, Collier 2021, Fast, Effective, and Self-Supervised: Transforming Masked "
    "Language Models into Universal Lexical and Sentence Encoders",
    default_encoder="bert",
    default_views="text_twice",
)
class MirrorBERT(Method):
    r"""Mirror-BERT (Liu, Vulić, Korhonen, Collier, EMNLP 2021, Section 2).

    Each text :math:`x_i` and an identical copy :math:`\bar x_i` form a positive pair; the two
    encodings differ by *input-space* augmentation — in :math:`\bar x_i` a random span of
    :math:`k` consecutive tokens is replaced by ``[MASK]``
    (:func:`~selfsup.modalities.text.views.ops.mask_one_span`) — and *feature-space*
    augmentation, the encoder's dropout. The InfoNCE loss takes every other text of the batch
    and every other copy as negatives (eq. 1):

    .. math::
        \mathcal{L} = -\sum_{i=1}^{|\mathcal B|} \log
            \frac{\exp(\cos(f(x_i), f(\bar x_i))/\tau)}{\sum_{x_j \in \mathcal N_i}
            \exp(\cos(f(x_i), f(x_j))/\tau)}

    which is NT-Xent over the :math:`2|\mathcal B|` encodings (:func:`selfsup.losses.nt_xent.nt_xent`,
    gathered across processes; averaged over the anchors instead of summed).

    Args:
        encoder: any text encoder with dropout (``bert``).
        views: view maker, ``views(batch, 2)``; default ``text_twice`` (the copies), the span
            is masked here in the second.
        temperature: :math:`\tau` (paper: 0.04).
        span: :math:`k`, tokens masked in the copy (paper: 5 for sentences, 2 for words and
            phrases); a text of ``n`` tokens gets ``min(k, n - 1)``.

    Paper defaults vs. library defaults: :math:`\tau` = 0.04, :math:`k` = 5, dropout 0.1,
    10,000 sentences of the target domain for one epoch, batch 200, lr 2e-5, max length 50, from
    a pretrained BERT / RoBERTa. Library: the same temperature, span and dropout; mean pooling
    (the encoder's default), trained from the encoder's initialisation with the engine's
    optimiser.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, temperature: float = 0.04, span: int = 5) -> None:
        super().__init__(encoder, views)
        name = "mirror_bert"
        encoder_spec(encoder, name)
        self.temperature = fraction(temperature, "temperature", name, high=100.0)
        self.span = count(span, "span", name, low=0)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        # input-space augmentation: one random span of the copy masked
        mirrored = mask_one_span(v2["x"], self.span)[0] if self.span else v2["x"]
        # feature-space augmentation: two passes in training mode, two dropout masks
        z1 = self.encoder(v1["x"])
        z2 = self.encoder(mirrored)
        loss = nt_xent(z1, z2, self.temperature)
        positive = F.cosine_similarity(z1.detach(), z2.detach(), dim=1).mean()
        return {"loss": loss, "positive_cosine": positive}

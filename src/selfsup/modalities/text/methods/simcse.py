"""Unsupervised SimCSE: a sentence and itself under two dropout masks are a positive pair (Gao et
al. 2021)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.methods.base import Method
from selfsup.modalities.text.losses.simcse import simcse_loss
from selfsup.modalities.text.methods.heads import encoder_spec, fraction
from selfsup.registry import METHODS


@METHODS.register(
    "simcse",
    family="contrastive",
    modality="text",
    paper="Gao, Yao, Chen 2021, SimCSE: Simple Contrastive Learning of Sentence Embeddings",
    default_encoder="bert",
    # the same sentence twice: the encoder's dropout is the only augmentation (Section 3)
    default_views="text_twice",
    # from scratch the text modality's 1e-3 (MLM's) left SimCSE below its random init; see below
    default_train={"lr": 1e-4},
)
class SimCSE(Method):
    r"""Unsupervised SimCSE (Gao, Yao, Chen, EMNLP 2021, Section 3).

    Each sentence :math:`x_i` is encoded twice in training mode, so two independent dropout
    masks :math:`z, z'` give two embeddings :math:`h_i^{z}, h_i^{z'}`, a positive pair; the other
    sentences of the (global) batch are the negatives (eq. 4):

    .. math::
        \ell_i = -\log \frac{e^{\mathrm{sim}(h_i^{z_i}, h_i^{z_i'})/\tau}}
                            {\sum_{j=1}^{N} e^{\mathrm{sim}(h_i^{z_i}, h_j^{z_j'})/\tau}}

    (:func:`~selfsup.modalities.text.losses.simcse.simcse_loss`, gathered across processes). The
    views are the text itself (``text_twice``); any view maker may be given instead.

    Args:
        encoder: any text encoder with dropout (``bert``: dropout 0.1 by default).
        views: view maker, ``views(batch, 2)``; default ``text_twice``.
        temperature: :math:`\tau` (paper: 0.05, Table D.1 / Section 3).
        mlp: train through SimCSE's pooler MLP (dense + tanh on the pooled output), dropped at
            evaluation ("we take [CLS] with an MLP layer on top during training, removing it at
            test time": the unsupervised recipe, Section 6.3 / Table 6).

    Paper defaults vs. library defaults:
        * :math:`\tau` = 0.05, dropout p = 0.1 (Table 3), MLP during training only, [CLS]
          pooling; batch 64, lr 3e-5 (BERT-base), 1 epoch on 10^6 Wikipedia sentences, from a
          pretrained BERT. Library: the same temperature, dropout and MLP; mean pooling (the
          encoder's default: from scratch nothing else trains [CLS]; Table 6 finds the poolings
          close); trained from the encoder's initialisation, with the engine's optimiser at a
          learning rate of 1e-4 (``default_train``; the text modality's 1e-3 is MLM's).

    Why 1e-4: on ``fortunes`` (``bert`` tiny, 120 s, one thread; linear / kNN probe on the category,
    random init 0.316 / 0.234) lr 1e-3 gave 0.304 / 0.215, 3e-4 0.318 / 0.241, 1e-4 0.320 / 0.245;
    at 1e-3, temperature 0.1 or 0.2 or no MLP did not help. With 360 s at 1e-4: 0.324 / 0.254
    (dropout 0.2: 0.327 / 0.259). From scratch the dropout-only task is easy and a large step
    size spends the encoder's spread on it (RankMe fell from 57 to 41 at 1e-3).
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, temperature: float = 0.05, mlp: bool = True) -> None:
        super().__init__(encoder, views)
        name = "simcse"
        encoder_spec(encoder, name)
        self.temperature = fraction(temperature, "temperature", name, high=100.0)
        dim = int(encoder.output_dim)
        self.pooler = nn.Sequential(nn.Linear(dim, dim), nn.Tanh()) if mlp else nn.Identity()

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        # two passes in training mode: two dropout masks z, z'
        h1 = self.pooler(self.encoder(v1["x"]))
        h2 = self.pooler(self.encoder(v2["x"]))
        loss = simcse_loss(h1, h2, self.temperature)
        positive = F.cosine_similarity(h1.detach(), h2.detach(), dim=1).mean()
        return {"loss": loss, "positive_cosine": positive}

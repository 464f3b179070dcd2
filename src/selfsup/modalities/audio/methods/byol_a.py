"""BYOL-A: BYOL on log-mel spectrograms with audio augmentations (Niizumi et al. 2021)."""

from __future__ import annotations

from torch import nn

from selfsup.methods.byol import BYOL
from selfsup.registry import METHODS


@METHODS.register(
    "byol_a",
    family="self-distillation",
    modality="audio",
    paper="Niizumi et al. 2021, BYOL for Audio: Self-Supervised Learning for General-Purpose Audio "
    "Representation",
    default_encoder="logmel_cnn",
    default_views="byol_a",
)
class BYOLA(BYOL):
    r"""BYOL-A (Niizumi, Takeuchi, Ohishi, Harada, Kashino 2021).

    The objective is BYOL's unchanged (:class:`~selfsup.methods.byol.BYOL`: the online
    predictor regresses the EMA target's projection of the other view, symmetrised,
    :math:`2 - 2\cos` each way); what BYOL-A adds is the audio recipe: two views of the *same
    segment* made only by its augmentation module (``byol_a`` views: mixup with another clip,
    random resize crop of the log-mel, and v2's random linear fader — no two time crops, so the
    representation must hold what is shared across the whole clip) and its encoder
    (``logmel_cnn``: three conv blocks, a frame MLP, mean + max over time).

    Paper defaults (Section IV-A) vs. library defaults:
        * projector and predictor ``Linear(4096)-BN-ReLU-Linear(256)``; target decay
          :math:`\tau = 0.99`; Adam lr 3e-4, batch 256, 100 epochs on AudioSet.
          Library: hidden 1024 (a CPU-sized encoder of 512 dims), output 256, :math:`\tau_{base}`
          0.99 with BYOL's cosine schedule to 1; optimiser and epochs are engine settings
          (``configs/byol_a_spoken_words.yaml``).
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, projector_hidden_dim: int = 1024,
                 projector_dim: int = 256, predictor_hidden_dim: int = 1024, momentum_base: float = 0.99) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, predictor_hidden_dim, momentum_base)

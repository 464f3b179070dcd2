"""HuBERT: masked prediction of k-means units (Hsu et al. 2021)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method, detach_logs
from selfsup.modalities.audio.losses.hubert import masked_unit_prediction
from selfsup.modalities.audio.methods.spans import span_mask
from selfsup.modalities.audio.methods.targets import (
    LayerTargets,
    MFCCTargets,
    UnitCodebook,
    check_speech_encoder,
    parse_targets,
)
from selfsup.registry import METHODS


def check_fraction(value: Any, name: str, method: str, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value <= high:
        raise SelfsupError(f"Option {name} of method {method!r} must be a number in (0, {high}]; got {value!r}.")
    return float(value)


def check_count(value: Any, name: str, method: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SelfsupError(f"Option {name} of method {method!r} must be an integer >= {low}; got {value!r}.")
    return value


@METHODS.register(
    "hubert",
    family="masked modelling",
    modality="audio",
    paper="Hsu et al. 2021, HuBERT: Self-Supervised Speech Representation Learning by Masked "
    "Prediction of Hidden Units",
    default_encoder="wav2vec_transformer",
    # the masking is the whole task: no hand-made augmentation (Section III)
    default_views="none",
)
class HuBERT(Method):
    r"""HuBERT (Hsu, Bolte, Tsai, Lakhotia, Salakhutdinov, Mohamed 2021).

    The conv feature encoder's frames are projected, span-masked (wav2vec 2.0's masking, p = 8 %
    of the frames as starts, spans of 10; masked frames replaced by a learned embedding), and the
    transformer's output at every masked frame predicts that frame's hidden unit — a k-means
    cluster of acoustic features — through a projection and a cosine softmax over unit embeddings
    (:func:`~selfsup.modalities.audio.losses.hubert.masked_unit_prediction`, eqs. 1-3, :math:`\alpha = 1`).

    Targets (``targets``):
        * ``"mfcc"``: iteration 1, k-means of 39-dimensional MFCC frames (13 + deltas).
        * ``"RUN_DIR:L"``: iteration 2, k-means of layer ``L`` of a previous run's transformer
          (``selfsup pretrain --method hubert --set method.targets=runs/hubert1:2``).
        The codebook is fitted on the first batch's frames and then frozen
        (:mod:`~selfsup.modalities.audio.methods.targets` says why and how).

    Paper defaults (Section IV-C/D) vs. library defaults:
        * 100 clusters on MFCC (iteration 1), 500 on the 6th layer (iteration 2); mask starts
          p = 8 %, span 10; temperature 0.1; unit embeddings and projection of 256 dims.
          Library: the same mask, temperature and 100 units; projection 64 (a 128-wide encoder).
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, num_units: int = 100, targets: str = "mfcc",
                 mask_prob: float = 0.08, mask_length: int = 10, temperature: float = 0.1,
                 projection_dim: int = 64, masked_weight: float = 1.0) -> None:
        super().__init__(encoder, views)
        name = "hubert"
        check_speech_encoder(encoder, name)
        self.num_units = check_count(num_units, "num_units", name, 2)
        self.mask_prob = check_fraction(mask_prob, "mask_prob", name)
        self.mask_length = check_count(mask_length, "mask_length", name)
        self.temperature = check_fraction(temperature, "temperature", name, 100.0)
        self.masked_weight = check_fraction(masked_weight, "masked_weight", name)
        layer_target = parse_targets(targets, name)
        self.targets = MFCCTargets(encoder) if layer_target is None else LayerTargets(*layer_target, name)
        self.codebook = UnitCodebook(self.num_units, self.targets.dim)
        dim = int(encoder.dim)
        self.mask_embedding = nn.Parameter(torch.empty(dim).uniform_())
        projection_dim = check_count(projection_dim, "projection_dim", name)
        self.projection = nn.Linear(dim, projection_dim)
        self.unit_embeddings = nn.Parameter(torch.randn(self.num_units, projection_dim))

    def unit_targets(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """Hidden unit of every encoder frame ``[B, frames]`` (the codebook is fitted on the first call)."""
        features, fit_frames = self.targets(x, frames)
        if not bool(self.codebook.fitted):
            self.codebook.fit(fit_frames.float())
        return self.codebook.assign(features.float())

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        z, valid = self.encoder.features(x)  # [B, T', C]
        targets = self.unit_targets(x, z.shape[1])
        masked = span_mask(valid, self.mask_prob, self.mask_length)
        h = self.encoder.project(z)
        h = torch.where(masked[..., None], self.mask_embedding.to(h.dtype), h)
        c = self.encoder.context(h, valid)[-1]
        terms = masked_unit_prediction(self.projection(c), self.unit_embeddings, targets, masked, valid,
                                       self.temperature, self.masked_weight)
        terms["masked_share"] = masked.sum() / valid.sum().clamp_min(1)
        return detach_logs(terms)

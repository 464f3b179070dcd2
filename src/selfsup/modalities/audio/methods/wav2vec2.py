"""wav2vec 2.0: contrastive prediction of Gumbel-quantised latents at masked frames (Baevski et al. 2020)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method
from selfsup.modalities.audio.losses.wav2vec2 import wav2vec2_contrastive
from selfsup.modalities.audio.methods.hubert import check_count, check_fraction
from selfsup.modalities.audio.methods.spans import span_mask
from selfsup.modalities.audio.methods.targets import check_speech_encoder
from selfsup.nn.quantizers import GumbelVectorQuantizer
from selfsup.registry import METHODS


@METHODS.register(
    "wav2vec2",
    family="contrastive",
    modality="audio",
    paper="Baevski et al. 2020, wav2vec 2.0: A Framework for Self-Supervised Learning of Speech "
    "Representations",
    default_encoder="wav2vec_transformer",
    # BASE's conv feature extractor: with the per-frame LayerNorm stack the random-init latents
    # are frame-wise noise and the masked frames cannot be predicted (see the class docstring)
    default_encoder_options={"conv_norm": "group"},
    default_views="none",
)
class Wav2Vec2(Method):
    r"""wav2vec 2.0 (Baevski, Zhou, Mohamed, Auli 2020).

    The conv feature encoder gives latents :math:`z_t`; a Gumbel-softmax product quantiser
    (:class:`~selfsup.nn.quantizers.GumbelVectorQuantizer`, G groups x V entries) turns the
    *unmasked* latents into targets :math:`q_t`; the projected latents are span-masked (starts
    p = 6.5 %, spans of 10; a learned mask embedding) and the transformer's output :math:`c_t`
    at each masked frame, projected, must pick :math:`q_t` among K distractors from other masked
    frames of the same clip (eq. 3,
    :func:`~selfsup.modalities.audio.losses.wav2vec2.wav2vec2_contrastive`). The loss is
    :math:`L = L_m + \alpha L_d` with the codebook diversity loss :math:`L_d` (eq. 4), plus
    ``feature_penalty`` times the mean square of the latents (the authors' code uses 10, to keep
    their unnormalised conv features in range). It is 0 here: ``wav2vec_transformer`` normalises
    every conv frame, and with the penalty the latents shrink to a constant vector (measured on
    spoken_words: the contrastive loss then stays at :math:`\ln(K + 1)`). As in the authors' code
    the quantiser reads the layer-normalised latents (``feature_norm``).

    The encoder is built with ``conv_norm="group"``, the paper's BASE feature extractor (a
    per-channel norm after the first conv only). With the per-frame LayerNorm after every conv
    (LARGE's extractor, the encoder's default) the random-init latents of 20 ms frames are no more
    alike next to each other than across clips (spoken_words: cosine 0.51 at lags 1 to 10; an
    adjacent frame has the same code 5 % of the time, as a frame 10 away), so a masked frame's
    target cannot be predicted from its neighbours, even when the neighbour's own latent replaces
    the mask embedding: the loss sat at :math:`\ln(K + 1)` until the only way down left, a
    collapsed codebook (identical distractors leave the sum), was found.

    Paper defaults (Sections 3-4, BASE) vs. library defaults:
        * G = 2 groups of V = 320 entries, K = 100 distractors, :math:`\kappa = 0.1`,
          :math:`\alpha = 0.1`, mask p = 0.065 / span 10, final projection 256; Gumbel temperature
          2 -> 0.5 by a factor 0.999995 per update (400k updates). Library: the same, the final
          projection 64 (a 128-wide encoder), and the temperature annealed geometrically from 2 to
          0.5 over the run's progress (a run of a few hundred steps would otherwise stay at 2),
          and codewords initialised N(0, 1) (see ``__init__``).
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, groups: int = 2, entries: int = 320,
                 num_distractors: int = 100, temperature: float = 0.1, diversity_weight: float = 0.1,
                 feature_penalty: float = 0.0, mask_prob: float = 0.065, mask_length: int = 10,
                 final_dim: int = 64, gumbel_temperature: tuple[float, float] = (2.0, 0.5)) -> None:
        super().__init__(encoder, views)
        name = "wav2vec2"
        check_speech_encoder(encoder, name)
        self.num_distractors = check_count(num_distractors, "num_distractors", name)
        self.temperature = check_fraction(temperature, "temperature", name, 100.0)
        self.diversity_weight = check_fraction(diversity_weight, "diversity_weight", name, 100.0)
        self.feature_penalty = float(feature_penalty)
        self.mask_prob = check_fraction(mask_prob, "mask_prob", name)
        self.mask_length = check_count(mask_length, "mask_length", name)
        final_dim = check_count(final_dim, "final_dim", name)
        groups, entries = check_count(groups, "groups", name), check_count(entries, "entries", name, 2)
        tau_max, tau_min = (check_fraction(t, "gumbel_temperature", name, 100.0) for t in gumbel_temperature)
        if final_dim % groups:
            raise SelfsupError(f"Option final_dim ({final_dim}) of method {name!r} must be divisible by groups "
                               f"({groups}): each group's codewords are final_dim / groups wide.")
        self.quantizer = GumbelVectorQuantizer(encoder.conv_channels, final_dim, groups, entries,
                                               tau_max=tau_max, tau_min=tau_min)
        # Codewords start as N(0, 1), not the quantiser's U(0, 1): uniform codewords share one large
        # mean direction, every target is then nearly the same vector (cosine ~0.9) and on
        # spoken_words the contrastive loss stayed at ln(K + 1) for a whole short run
        nn.init.normal_(self.quantizer.codebooks)
        self.feature_norm = nn.LayerNorm(encoder.conv_channels)
        self.project_q = nn.Linear(self.quantizer.output_dim, final_dim)
        self.final_projection = nn.Linear(int(encoder.dim), final_dim)
        self.mask_embedding = nn.Parameter(torch.empty(int(encoder.dim)).uniform_())

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        z, valid = self.encoder.features(x)  # [B, T', C]
        masked = span_mask(valid, self.mask_prob, self.mask_length)
        h = self.encoder.project(z)
        h = torch.where(masked[..., None], self.mask_embedding.to(h.dtype), h)
        c = self.encoder.context(h, valid)[-1]
        quantized, _, aux = self.quantizer(self.feature_norm(z[masked]))  # targets from the unmasked latents
        clip = torch.nonzero(masked)[:, 0]
        clip = torch.unique(clip, return_inverse=True)[1]  # clips without a masked frame dropped
        contrastive, accuracy = wav2vec2_contrastive(self.final_projection(c[masked]), self.project_q(quantized),
                                                     clip, self.num_distractors, self.temperature)
        penalty = z[valid].float().pow(2).mean()
        loss = contrastive + self.diversity_weight * aux["loss"] + self.feature_penalty * penalty
        return {"loss": loss, "contrastive_loss": contrastive.detach(), "diversity_loss": aux["loss"].detach(),
                "accuracy": accuracy.detach(), "code_perplexity": aux["perplexity"].detach(),
                "gumbel_temperature": torch.tensor(self.quantizer.temperature)}

    def on_step_end(self, progress: float) -> None:
        q = self.quantizer
        q.temperature = max(q.tau_max * (q.tau_min / q.tau_max) ** min(progress, 1.0), q.tau_min)

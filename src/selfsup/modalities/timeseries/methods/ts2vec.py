"""TS2Vec: hierarchical contrasting of per-timestamp latents over overlapping crops.

TS-TCC and CPC are in :mod:`~selfsup.modalities.timeseries.methods.tstcc` and
:mod:`~selfsup.modalities.timeseries.methods.cpc`; the checks the three share in
:mod:`~selfsup.modalities.timeseries.methods.checks`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method
from selfsup.modalities.timeseries.losses.ts2vec import hierarchical_contrastive_loss
from selfsup.modalities.timeseries.methods.checks import probability, sequence_encoder
from selfsup.registry import METHODS


@METHODS.register(
    "ts2vec",
    family="contrastive",
    # written for time series: needs the sequence contract (forward_sequence)
    modality="timeseries",
    paper="Yue et al. 2022, TS2Vec: Towards Universal Representation of Time Series",
    default_encoder="dilated_cnn",
    default_views="ts2vec_crops",
)
class TS2Vec(Method):
    r"""TS2Vec (Yue, Wang, Duan, Yang, Huang, Tong, Xu 2022, AAAI).

    Two overlapping random crops of every series (the ``ts2vec_crops`` views; "contextual
    consistency") are encoded to one latent per timestamp with *timestamp
    masking*: the method draws a Bernoulli(``mask_prob``) mask per (sample, timestamp) and the
    encoder zeroes those timestamps' latents right after its input projection. On the
    timestamps both crops share, the latents :math:`r, r'` ``[B, T, D]`` are contrasted by the
    hierarchical loss of Algorithm 1
    (:func:`~selfsup.modalities.timeseries.losses.ts2vec.hierarchical_contrastive_loss`): at every scale the
    instance-wise term (eq. 3, other samples at the same timestamp as negatives) and the
    temporal term (eq. 2, the same sample's other timestamps as negatives), weighted
    :math:`\alpha` and :math:`1 - \alpha`, then max-pooling over time by 2 until one latent
    is left:

    .. math::
        \mathcal{L} = \frac{1}{S} \sum_{s} \alpha\,\ell_{inst}^{(s)} + (1 - \alpha)\,\ell_{temp}^{(s)}

    Views: each view's batch dict carries ``"overlap"`` (length of the shared segment) and
    ``"overlap_start"`` (where it starts inside that view); the latents
    ``forward_sequence(view)[:, start : start + overlap]`` of the two views are aligned
    timestamp by timestamp. A view maker without these keys must keep the views aligned
    (same length, no time shift, e.g. jitter/scaling only): the whole series is then the
    overlap. The encoder must give one latent per input timestamp (``T' == T``).

    Shapes: ``views(batch, 2)`` -> two ``x [B, T_v, C]``; latents ``[B, T_v, D]``; loss on
    ``[B, overlap, D]``. ``embed`` is the encoder's pooled output (max over time, which is
    TS2Vec's instance representation for classification).

    Args:
        encoder: a sequence encoder (``dilated_cnn``, TS2Vec's).
        views: view maker; ``ts2vec_crops`` by default.
        alpha: weight of the instance-wise term (``1 - alpha`` for the temporal term).
        mask_prob: probability that a timestamp's latent is masked during training.
        temporal_unit: first scale (0 = the finest) with a temporal term.

    Paper defaults vs. library defaults:
        * :math:`\alpha = 0.5` ("Hierarchical Contrasting"), binomial masking with p = 0.5
          ("Timestamp Masking" and the released code), ``temporal_unit = 0`` (the code's
          default). Library: the same.
        * encoder: 10 residual dilated-conv blocks, hidden 64, representation 320
          ("Implementation details"): the ``dilated_cnn`` encoder's settings.
        * batch 8, learning rate 0.001 (AdamW in the released code), 200 iterations for a
          data set of <= 100,000 values, 600 otherwise: engine settings, see
          ``configs/ts2vec_gunpoint.yaml``. The released code evaluates an equal-weight
          average of all training iterates (``torch.optim.swa_utils.AveragedModel``); the
          engine does the same with ``train.average_weights: true`` (the recipe's setting),
          and evaluates the last encoder otherwise.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        alpha: float = 0.5,
        mask_prob: float = 0.5,
        temporal_unit: int = 0,
    ) -> None:
        super().__init__(encoder, views)
        sequence_encoder(encoder, "ts2vec")
        self.alpha = probability(alpha, "alpha")
        self.mask_prob = probability(mask_prob, "mask_prob", open_high=True)
        if isinstance(temporal_unit, bool) or not isinstance(temporal_unit, int) or temporal_unit < 0:
            raise ValueError(f"temporal_unit must be an integer >= 0, got {temporal_unit!r}")
        self.temporal_unit = temporal_unit

    def timestamp_mask(self, x: torch.Tensor) -> torch.Tensor | None:
        """Bernoulli(``mask_prob``) mask (True = masked) in training, None otherwise.

        ``[B, T]`` for ``x [B, T, C]``; ``[B, D, T]`` (one per device) for ``x [B, D, T, C]``.
        """
        if not self.training or self.mask_prob == 0.0:
            return None
        return torch.rand(x.shape[:-1], device=x.device) < self.mask_prob

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        r1 = self.encoder.forward_sequence(v1["x"], mask=self.timestamp_mask(v1["x"]))
        r2 = self.encoder.forward_sequence(v2["x"], mask=self.timestamp_mask(v2["x"]))
        r1, r2 = _shared_segment(v1, r1, 0), _shared_segment(v2, r2, 1)
        if r1.shape != r2.shape:
            raise SelfsupError(
                f"ts2vec: the two views give latents of shapes {tuple(r1.shape)} and "
                f"{tuple(r2.shape)} on their shared segment; use the ts2vec_crops views (they "
                "say where the crops overlap) or views that keep the series aligned."
            )
        loss = hierarchical_contrastive_loss(r1, r2, self.alpha, self.temporal_unit)
        return {"loss": loss, "overlap": torch.tensor(float(r1.shape[1]), device=loss.device)}


def _shared_segment(view: dict[str, Any], latents: torch.Tensor, number: int) -> torch.Tensor:
    """The latents ``[B, overlap, D]`` of the timestamps this view shares with the other one."""
    has = ("overlap" in view, "overlap_start" in view)
    if not any(has):
        return latents
    if not all(has):
        raise SelfsupError(
            f"ts2vec: view {number} carries only one of 'overlap' / 'overlap_start'; a view maker "
            "that crops must give both."
        )
    length, start = int(view["overlap"]), int(view["overlap_start"])
    steps = view["x"].shape[-2]  # time axis of [B, T, C] and [B, D, T, C]
    if latents.shape[1] != steps:
        raise SelfsupError(
            f"ts2vec needs one latent per timestamp to align the crops, but the encoder gives "
            f"{latents.shape[1]} latents for {steps} timestamps; choose a per-timestamp encoder "
            "such as dilated_cnn, fcn1d or resnet1d."
        )
    if length < 1 or start < 0 or start + length > steps:
        raise SelfsupError(
            f"ts2vec: view {number} says its shared segment is [{start}, {start + length}) but "
            f"it has {steps} timestamps."
        )
    return latents[:, start : start + length]

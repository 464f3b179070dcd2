"""CPC, contrastive predictive coding of a series: a GRU summarises the latents up to time
:math:`t` into a context :math:`c_t`, and :math:`W_k c_t` must identify the true latent
:math:`k` steps ahead among the other samples' latents at that step
(:func:`~selfsup.modalities.timeseries.losses.cpc.future_infonce`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.methods.base import Method
from selfsup.modalities.timeseries.losses.cpc import future_infonce
from selfsup.modalities.timeseries.methods.checks import (
    check_prediction_length,
    positive_int,
    sequence_encoder,
)
from selfsup.registry import METHODS


@METHODS.register(
    "cpc",
    family="contrastive",
    # written for time series: needs the sequence contract (forward_sequence)
    modality="timeseries",
    paper="van den Oord et al. 2018, Representation Learning with Contrastive Predictive Coding",
    default_encoder="causal_cnn",
    # CPC uses no hand-made augmentation: predicting the future is the whole task (Section 2).
    default_views="none",
)
class CPC(Method):
    r"""Contrastive Predictive Coding (van den Oord, Li, Vinyals 2018).

    The encoder maps one view of each series to latents :math:`z_t` ``[B, T', D]``; a GRU
    summarises :math:`z_{\le t}` into the context :math:`c_t`; for every :math:`t` and
    :math:`k = 1..K`, the prediction :math:`W_k c_t` scores candidates with
    :math:`f_k(z, c_t) = \exp(z^\top W_k c_t)` (eq. 3) and InfoNCE (eq. 4) makes it pick the
    true :math:`z_{t+k}`:

    .. math::
        \mathcal{L}_N = -\frac{1}{K} \sum_{k=1}^{K} \frac{1}{B (T' - k)} \sum_{b,\, t < T' - k}
            \log \frac{\exp(z_{b,t+k}^\top W_k c_{b,t})}{\sum_{j=1}^{B} \exp(z_{j,t+k}^\top W_k c_{b,t})}

    **Negatives**: the :math:`B - 1` other samples of the local batch at the same time step
    :math:`t + k` (not other time steps of the same series, and not gathered across
    processes: the paper draws negatives from each GPU's minibatch, Section 3.1). The loss is
    the mean over :math:`k` of the mean over samples and positions valid for that :math:`k`.

    Shapes: latents ``[B, T', D]``; contexts ``[B, T', context_dim]``. ``embed`` is the
    encoder's pooled output (the encoder is what the engine keeps; the paper's audio
    experiments probe the context instead). With a non-causal encoder, :math:`z_t` sees
    samples after :math:`t` through its receptive field, which makes the task easier.

    Args:
        encoder: a sequence encoder (``dilated_cnn`` by default).
        views: view maker; ``none`` by default (one view, the input itself).
        prediction_steps: :math:`K`.
        context_dim: hidden size of the GRU.

    Paper defaults vs. library defaults (Section 3.1, audio):
        * GRU with a 256-dimensional state, :math:`K = 12` steps, negatives from the
          minibatch. Library: the same.
        * encoder: five strided convolutions (downsampling 160) on raw audio, 512 channels;
          Adam, lr 2e-4, 8 GPUs x batch 8. The library uses the modality's sequence encoder
          (``T' = T``); optimiser and batch are engine settings
          (``configs/cpc_gunpoint.yaml``).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        prediction_steps: int = 12,
        context_dim: int = 256,
    ) -> None:
        super().__init__(encoder, views)
        sequence_encoder(encoder, "cpc")
        dim = int(encoder.sequence_dim)
        self.prediction_steps = positive_int(prediction_steps, "prediction_steps")
        self.autoregressive = nn.GRU(dim, positive_int(context_dim, "context_dim"), batch_first=True)
        self.predictors = nn.ModuleList(nn.Linear(context_dim, dim) for _ in range(self.prediction_steps))

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        z = self.encoder.forward_sequence(x)  # [B, T', D]
        check_prediction_length(z, self.prediction_steps, "cpc")
        context, _ = self.autoregressive(z)  # [B, T', h]; c_t sees z_{<=t} only
        losses = [
            # contexts c_0 .. c_{T'-k-1} predict z_k .. z_{T'-1}
            future_infonce(predictor(context[:, :-k]), z[:, k:])
            for k, predictor in enumerate(self.predictors, start=1)
        ]
        loss = torch.stack(losses).mean()
        return {"loss": loss, "first_step_loss": losses[0].detach(), "last_step_loss": losses[-1].detach()}

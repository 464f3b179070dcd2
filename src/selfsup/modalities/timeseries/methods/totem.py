"""TOTEM, the VQ-VAE tokeniser of time series, trained as a method: reconstruct each normalised
channel from its quantised latents."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method
from selfsup.modalities.timeseries.encoders.totem import ResidualStack, TotemEncoder
from selfsup.registry import METHODS


class TotemDecoder(nn.Module):
    """The mirror of :class:`TotemEncoder`'s convolutions: ``[N, D, T'] -> [N, 1, T' * F]``
    (a kernel-3 convolution, a residual stack, then ``log2 F`` transposed convolutions of
    kernel 4 and stride 2, the VQ-VAE decoder)."""

    def __init__(self, encoder: TotemEncoder) -> None:
        super().__init__()
        hidden = encoder.hidden_dim
        layers: list[nn.Module] = [nn.Conv1d(encoder.output_dim, hidden, 3, padding=1),
                                   ResidualStack(hidden, max(hidden // 2, 1))]
        steps = encoder.compression.bit_length() - 1
        width = hidden
        for i in range(steps):
            out = 1 if i == steps - 1 else max(hidden // 2, 1)
            layers.append(nn.ConvTranspose1d(width, out, 4, stride=2, padding=1))
            if i < steps - 1:
                layers.append(nn.ReLU())
            width = out
        if steps == 0:
            layers.append(nn.Conv1d(hidden, 1, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, quantized: torch.Tensor) -> torch.Tensor:
        return self.layers(quantized)


def totem_loss(series: torch.Tensor, reconstruction: torch.Tensor, observed: torch.Tensor,
               vq_loss: torch.Tensor) -> dict[str, torch.Tensor]:
    r"""TOTEM's objective (Section 3.1, the VQ-VAE loss of van den Oord et al. 2017, Eq. 3):

    .. math::
        \mathcal{L} = \frac{1}{|O|}\sum_{(n, t) \in O} (x_{n,t} - \hat x_{n,t})^2
            + \| sg[z] - e \|^2 + \beta \| z - sg[e] \|^2

    with ``O`` the observed steps of the normalised series and ``vq_loss`` the last two terms
    (the quantiser's ``aux["loss"]``). Shapes: ``series``, ``reconstruction``, ``observed``
    ``[N, T]``."""
    weight = observed.to(series.dtype)
    reconstruction_error = ((reconstruction - series).pow(2) * weight).sum() / weight.sum().clamp(min=1.0)
    return {"loss": reconstruction_error + vq_loss, "reconstruction": reconstruction_error}


@METHODS.register(
    "totem",
    family="discrete units",
    modality="timeseries",
    paper="Talukder, Yue, Gkioxari 2024, TOTEM: TOkenized Time Series EMbeddings",
    default_encoder="totem_vqvae",
    # a VQ-VAE reconstructs its input: no augmentation
    default_views="none",
)
class TOTEM(Method):
    r"""TOTEM (Talukder, Yue, Gkioxari 2024): a VQ-VAE over single channels of time series.

    Each channel of each series is normalised to zero mean and unit variance (instance
    normalisation), encoded to one latent :math:`z` per ``F`` steps, each latent replaced by its
    nearest codebook entry :math:`e` (straight-through), and decoded back to the normalised
    series; the loss is :func:`totem_loss` (reconstruction + codebook + :math:`\beta` commitment,
    :math:`\beta = 0.25`). Only the latents of observed steps are quantised (padding takes no
    code and no codebook update). The encoder keeps the codebook, so the run's tokens come from
    ``selfsup units encode RUN_DIR --data …``.

    Paper defaults vs library: ``F = 4``, ``K = 256``, ``D = 64`` (the encoder's defaults);
    the paper trains 15,000 iterations with Adam at 1e-3 and batch 4096 windows of 96 steps;
    the library trains whole series with the engine's optimiser (``configs/totem_gunpoint.yaml``).
    Codes unused for 10 steps are restarted at a batch latent (``encoder.restart_after``), which
    the paper does not do: without it the codebook collapses on small data sets (see the encoder).
    """

    def __init__(self, encoder: nn.Module, views: nn.Module) -> None:
        super().__init__(encoder, views)
        if not isinstance(encoder, TotemEncoder):
            raise SelfsupError(f"method 'totem' trains its own tokeniser encoder, totem_vqvae; got "
                               f"{type(encoder).__name__}. Leave the encoder out or set encoder.name=totem_vqvae.")
        self.decoder = TotemDecoder(encoder)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        latents, exists, series, observed = self.encoder.encode(x)  # [N, T', D], [N, T'], [N, T_pad]
        quantized, _, aux = self.encoder.quantizer(latents[exists])
        placed = torch.zeros_like(latents).masked_scatter(exists[..., None], quantized)
        reconstruction = self.decoder(placed.transpose(1, 2))[:, 0]
        terms = totem_loss(series, reconstruction, observed, aux["loss"])
        return {**terms, "reconstruction": terms["reconstruction"].detach(),
                "commitment": aux["commitment"].detach(), "codebook": aux["codebook"].detach(),
                "perplexity": aux["perplexity"], "usage": aux["usage"]}

"""The log-mel CNN: BYOL-A's audio encoder (Niizumi et al. 2021, Section III-D, after Koizumi et
al. 2020), the audio modality's default.

Contract of the audio encoders: ``x`` is a NaN-padded batch (:mod:`~selfsup.modalities.audio.frontend`):
waveforms ``[B, T]`` — turned into a log-mel inside the encoder — or features ``[B, F, T']`` (a
log-mel made by a view, or stored MFCCs). Each clip is standardised over its own observed values
(BYOL-A's normalisation, per clip instead of over the data set), padding never reaches the pooled
output, and ``forward_sequence(x) -> [B, frames, sequence_dim]`` gives the frame-level outputs
(the sequence contract of :mod:`selfsup.modalities.timeseries.encoders.base`; frames past a clip's
end are zero).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.encoders.base import positive_int
from selfsup.errors import SelfsupError
from selfsup.modalities.audio.data.source import AudioSpec
from selfsup.modalities.audio.frontend import N_MELS, LogMel, normalize_clips, valid_mask
from selfsup.registry import ENCODERS


class AudioFrontend(nn.Module):
    """``x`` (waveforms or features, NaN-padded) -> standardised features ``[B, F, T']`` with
    padding at 0, and ``valid [B, T']``. Waveforms go through a :class:`LogMel` of ``n_mels`` bands."""

    def __init__(self, spec: AudioSpec, n_mels: int, encoder: str) -> None:
        super().__init__()
        if not isinstance(spec, AudioSpec):
            raise SelfsupError(f"Encoder {encoder!r} takes audio (waveforms or features); the data is "
                               f"described by {spec!r}. Choose an encoder of this data's modality.")
        self.encoder = encoder
        self.logmel = LogMel(spec.sample_rate, n_mels) if spec.waveform else None
        self.bins = n_mels if spec.waveform else int(spec.features)

    def check(self, x: Any) -> torch.Tensor:
        if not torch.is_tensor(x) or not x.is_floating_point() or x.dim() not in (2, 3):
            shape = list(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise SelfsupError(f"Encoder {self.encoder!r} takes NaN-padded waveforms [B, T] or "
                               f"features [B, F, T]; got {shape}.")
        if x.dim() == 2 and self.logmel is None:
            raise SelfsupError(f"Encoder {self.encoder!r} was built for features of {self.bins} bins; "
                               f"got waveforms {list(x.shape)}.")
        if x.dim() == 3 and x.shape[1] != self.bins:
            raise SelfsupError(f"Encoder {self.encoder!r} was built for {self.bins} feature bins; got "
                               f"{x.shape[1]} (shape {list(x.shape)}). Views and encoder must agree "
                               "on n_mels.")
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.check(x)
        return normalize_clips(self.logmel(x) if x.dim() == 2 else x)


def masked_mean_max(seq: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """BYOL-A's temporal pooling: mean + max over the valid frames of ``seq [B, T, D]``."""
    weight = valid[..., None].to(seq.dtype)
    mean = (seq * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)
    top = seq.masked_fill(~valid[..., None], float("-inf")).amax(dim=1)
    return mean + torch.where(valid.any(dim=1, keepdim=True), top, 0.0)


@ENCODERS.register(
    "logmel_cnn", modality="audio", sequence=True,
    paper="Niizumi et al. 2021, BYOL for Audio (Section III-D)",
    description="log-mel CNN of BYOL-A: 3 x (conv3x3-BN-ReLU-maxpool2), a frame-wise MLP, mean+max pooling",
)
class LogMelCNN(nn.Module):
    """BYOL-A's encoder: three ``Conv2d(3x3)-BN-ReLU-MaxPool(2x2)`` blocks on the standardised
    log-mel ``[1, F, T]``, the channels x remaining bins of each frame flattened into a
    ``Linear-ReLU-Dropout-Linear-ReLU`` frame MLP, then the mean plus the max over time.

    Args:
        spec: the data's :class:`AudioSpec`.
        channels: conv channels (paper 64; 32 here keeps a CPU step short).
        hidden_dim: frame MLP width and ``output_dim`` (paper 2048).
        n_mels: bands of the log-mel computed from waveforms (paper 64).
        dropout: in the frame MLP (paper 0.3).

    A bin axis of 1 (few features) is no longer halved; time is pooled with ``ceil`` so a clip of
    a few frames keeps one.
    """

    def __init__(self, spec: AudioSpec, channels: int = 32, hidden_dim: int = 512, n_mels: int = N_MELS,
                 dropout: float = 0.3) -> None:
        super().__init__()
        name = "logmel_cnn"
        self.frontend = AudioFrontend(spec, positive_int(n_mels, "n_mels", name), name)
        channels = positive_int(channels, "channels", name)
        blocks, c_in, bins = [], 1, self.frontend.bins
        for _ in range(3):
            pool_bins = 2 if bins >= 2 else 1
            blocks.append(nn.ModuleList([
                nn.Sequential(nn.Conv2d(c_in, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()),
                nn.MaxPool2d((pool_bins, 2), ceil_mode=True),
            ]))
            c_in, bins = channels, -(-bins // pool_bins)  # ceil, as the pooling
        self.blocks = nn.ModuleList(blocks)
        self.output_dim = self.sequence_dim = positive_int(hidden_dim, "hidden_dim", name)
        self.frame_mlp = nn.Sequential(
            nn.Linear(channels * bins, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
        )

    def _frames(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, valid = self.frontend(x)  # [B, F, T'], [B, T']
        h, n = h[:, None], valid.sum(dim=1)
        for conv, pool in self.blocks:
            # frames past the clip are held at 0, so a padded clip embeds as the clip alone
            h = pool(conv(h) * valid_mask(n, h.shape[-1])[:, None, None])
            n = (n + 1) // 2
        h = self.frame_mlp(h.flatten(1, 2).transpose(1, 2))  # [B, T'', D]
        keep = valid_mask(n, h.shape[1])
        return h * keep[..., None], keep

    def forward_sequence(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            raise ValueError("logmel_cnn takes no timestamp mask")
        return self._frames(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return masked_mean_max(*self._frames(x))

"""Frame targets for masked unit prediction (HuBERT): k-means units of MFCC frames (iteration 1)
or of a pretrained run's transformer layer (iteration 2), aligned to the encoder's frames.

**Fitting.** HuBERT fits k-means on the whole training set before training (Hsu et al. 2021,
Section IV-C). A method here sees data only through its batches, so the codebook is fitted with
scikit-learn's ``MiniBatchKMeans`` on the valid frames of the *first training batch* (a few
thousand frames), then frozen; the centroids are buffers, so checkpoints and resumed runs keep
them (with several processes, rank 0's codebook is broadcast to the others). Features are standardised per dimension (MFCCs and their deltas differ in scale by orders of
magnitude) with the statistics of that batch.

**Alignment.** Encoder frame ``j`` is centred on input position ``j * stride + (rf - 1) / 2``
(``rf`` its receptive field); its target is the MFCC frame nearest to that centre (MFCC frames
are every 10 ms). A layer of a previous run has the encoder's own frames.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.audio.frontend import LogMel, lengths, mfcc
from selfsup.nn.gather import is_distributed

#: the stages a speech method masks between (see selfsup.modalities.audio.encoders.wav2vec)
SPEECH_ENCODER_ATTRIBUTES = ("spec", "features", "project", "context", "frames", "stride", "receptive_field", "blocks")


def check_speech_encoder(encoder: nn.Module, method: str) -> nn.Module:
    missing = [a for a in SPEECH_ENCODER_ATTRIBUTES if not hasattr(encoder, a)]
    if missing:
        raise SelfsupError(f"Method {method!r} masks frames between a feature encoder and a transformer: "
                           f"it needs an encoder such as wav2vec_transformer; {type(encoder).__name__} has no "
                           f"{', '.join(missing)}.")
    return encoder


def with_deltas(features: torch.Tensor) -> torch.Tensor:
    """``[B, F, T]`` -> ``[B, 3F, T]``: features, deltas and delta-deltas (central differences,
    edges repeated), HuBERT's 39-dimensional MFCC input for 13 coefficients."""
    def delta(x: torch.Tensor) -> torch.Tensor:
        padded = torch.cat([x[..., :1], x, x[..., -1:]], dim=-1)
        return (padded[..., 2:] - padded[..., :-2]) / 2

    filled = torch.nan_to_num(features)
    first = delta(filled)
    return torch.cat([filled, first, delta(first)], dim=1)


class UnitCodebook(nn.Module):
    """K-means centroids of standardised frame features: ``fit`` once, then ``assign``."""

    def __init__(self, num_units: int, dim: int, seed: int = 0) -> None:
        super().__init__()
        self.num_units, self.seed = int(num_units), seed
        self.register_buffer("centroids", torch.zeros(num_units, dim))
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit(self, frames: torch.Tensor) -> None:
        """Fit on ``frames [N, dim]``."""
        from sklearn.cluster import MiniBatchKMeans

        if len(frames) < self.num_units:
            raise SelfsupError(f"The first batch has {len(frames)} frames, fewer than the {self.num_units} units "
                               "to fit: raise the batch size or lower method.num_units.")
        self.mean.copy_(frames.mean(dim=0))
        self.std.copy_(frames.std(dim=0).clamp_min(1e-5))
        kmeans = MiniBatchKMeans(self.num_units, random_state=self.seed, n_init=3, batch_size=1024)
        kmeans.fit(((frames - self.mean) / self.std).double().cpu().numpy())
        self.centroids.copy_(torch.from_numpy(kmeans.cluster_centers_).to(self.centroids))
        if is_distributed():  # every process must predict the same units: rank 0's codebook
            for buffer in (self.centroids, self.mean, self.std):
                torch.distributed.broadcast(buffer, src=0)
        self.fitted.fill_(True)

    @torch.no_grad()
    def assign(self, frames: torch.Tensor) -> torch.Tensor:
        """Nearest unit of every row of ``frames [..., dim]``."""
        flat = ((frames - self.mean) / self.std).reshape(-1, frames.shape[-1])
        return torch.cdist(flat, self.centroids).argmin(dim=1).view(frames.shape[:-1])


class MFCCTargets(nn.Module):
    """MFCC (+ deltas) frames of each clip, picked at the encoder's frame centres: ``[B, T', 3F]``.
    Waveforms get 13 MFCCs of a 40-band log-mel; feature data (MFCCs) is used as stored."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        spec = encoder.spec
        self.logmel = LogMel(spec.sample_rate, n_mels=40) if spec.waveform else None
        self.dim = 3 * (13 if spec.waveform else int(spec.features))
        self.stride, self.field = encoder.stride, encoder.receptive_field

    def frame_index(self, frames: int, available: int, device: torch.device) -> torch.Tensor:
        centre = torch.arange(frames, device=device) * self.stride + (self.field - 1) / 2
        if self.logmel is not None:
            centre = centre / self.logmel.hop
        return centre.round().long().clamp(max=available - 1)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(targets [B, frames, D], all valid frames [N, D])`` — the second for fitting."""
        features = mfcc(self.logmel.to(x.device)(x), 13) if self.logmel is not None else x
        valid = torch.arange(features.shape[-1], device=x.device)[None] < lengths(features)[:, None]
        full = with_deltas(features).transpose(1, 2)  # [B, T, D]
        picked = full[:, self.frame_index(frames, full.shape[1], x.device)]
        return picked, full[valid]


class LayerTargets(nn.Module):
    """Layer ``layer`` (1-based) of the transformer of a pretrained run's encoder: ``[B, T', D]``."""

    def __init__(self, run_dir: str, layer: int, method: str) -> None:
        super().__init__()
        import selfsup

        teacher = selfsup.load(run_dir)
        check_speech_encoder(teacher, method)
        depth = len(teacher.blocks)
        if not 1 <= layer <= depth:
            raise SelfsupError(f"Layer {layer} of {run_dir} is out of range: its encoder has transformer "
                               f"layers 1..{depth}. Use method.targets={run_dir}:L with L in 1..{depth}.")
        self.teacher, self.layer = teacher.eval().requires_grad_(False), layer
        self.dim = int(teacher.dim)

    def train(self, mode: bool = True) -> LayerTargets:
        super().train(mode)
        self.teacher.eval()  # a frozen target network never uses dropout
        return self

    @torch.no_grad()
    def forward(self, x: torch.Tensor, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        z, valid = self.teacher.features(x)
        if z.shape[1] != frames:
            raise SelfsupError(f"The target run's encoder gives {z.shape[1]} frames where this encoder gives "
                               f"{frames}: both must have the same conv feature encoder.")
        out = self.teacher.context(self.teacher.project(z), valid)[self.layer - 1]
        return out, out[valid]


def parse_targets(targets: Any, method: str) -> tuple[str, int] | None:
    """``"mfcc"`` -> None; ``"RUN_DIR:layer"`` -> ``(RUN_DIR, layer)``; else one SelfsupError."""
    if targets == "mfcc":
        return None
    run_dir, _, layer = str(targets).rpartition(":")
    if not run_dir or not layer.isdigit():
        raise SelfsupError(f"Option targets of method {method!r} must be 'mfcc' (iteration 1) or "
                           f"'RUN_DIR:layer' (a previous run's transformer layer); got {targets!r}.")
    return run_dir, int(layer)

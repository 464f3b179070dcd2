"""A patch transformer on the log-mel (SSAST, Gong et al. 2022; MAE-AST, Baade et al. 2022): the
standardised log-mel cut into ``patch_bins x patch_frames`` patches, a linear patch embedding, a
ViT trunk. It has the token contract (:mod:`selfsup.encoders.tokens`), so MAE and JEPA train on
audio unchanged; patches wholly past a clip's end are padding (not attended to, not pooled)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.encoders.base import dropout_rate, positive_int
from selfsup.encoders.tokens import TransformerTrunk, gather_tokens, init_linear_weights
from selfsup.errors import SelfsupError
from selfsup.modalities.audio.data.source import AudioSpec
from selfsup.modalities.audio.encoders.logmel_cnn import AudioFrontend
from selfsup.modalities.audio.frontend import N_MELS
from selfsup.registry import ENCODERS


@ENCODERS.register(
    "logmel_patch_transformer", modality="audio", tokens=True,
    paper="Gong et al. 2022, SSAST; Baade et al. 2022, MAE-AST",
    description="ViT on log-mel patches (bins x frames); the token contract, for MAE / JEPA on audio",
)
class LogMelPatchTransformer(nn.Module, TransformerTrunk):
    """Log-mel patches -> transformer tokens; pooled output the mean of the clip's tokens.

    Args:
        spec: the data's :class:`AudioSpec` (its ``length`` fixes the number of time patches).
        patch_bins / patch_frames: patch size (SSAST 16 x 16); ``patch_bins`` larger than the
            data's bins takes them all.
        dim / depth / heads / mlp_ratio / dropout: the trunk (SSAST: 768 / 12 / 12 / 4 / 0).
        n_mels: bands of the log-mel computed from waveforms.
    """

    def __init__(self, spec: AudioSpec, patch_bins: int = 16, patch_frames: int = 16, dim: int = 128,
                 depth: int = 2, heads: int = 4, mlp_ratio: float = 2.0, dropout: float = 0.0,
                 n_mels: int = N_MELS) -> None:
        super().__init__()
        name = "logmel_patch_transformer"
        self.frontend = AudioFrontend(spec, positive_int(n_mels, "n_mels", name), name)
        for option, value in (("patch_bins", patch_bins), ("patch_frames", patch_frames), ("dim", dim),
                              ("depth", depth), ("heads", heads)):
            positive_int(value, option, name)
        if dim % heads:
            raise SelfsupError(f"Option dim ({dim}) of encoder {name!r} must be divisible by heads ({heads}).")
        bins = self.frontend.bins
        frames = 1 + spec.length // self.frontend.logmel.hop if spec.waveform else spec.length
        self.patch_bins, self.patch_frames = min(patch_bins, bins), patch_frames
        self.grid = (math.ceil(bins / self.patch_bins), math.ceil(frames / patch_frames))
        self.bins, self.frames = self.grid[0] * self.patch_bins, self.grid[1] * patch_frames
        self.output_dim = self.token_dim = dim
        self.num_tokens, self.token_grid = math.prod(self.grid), self.grid
        self.token_target_dim = self.patch_bins * patch_frames
        self.patch_embed = nn.Linear(self.token_target_dim, dim)
        self._build_trunk(self.grid, dim, depth, heads, mlp_ratio, dropout_rate(dropout, "dropout", name), "sincos")
        init_linear_weights(self)

    def _patches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(patches [B, N, bins * frames], observed [B, N])``, grid row-major (bin band, time)."""
        features, valid = self.frontend(x)  # [B, F, T'] standardised, padding 0
        if features.shape[-1] > self.frames:
            raise SelfsupError(f"Encoder 'logmel_patch_transformer' was built for clips of up to {self.frames} "
                               f"frames; got {features.shape[-1]}. Rebuild it with the data's spec.")
        features = F.pad(features, (0, self.frames - features.shape[-1], 0, self.bins - features.shape[1]))
        valid = F.pad(valid, (0, self.frames - valid.shape[-1]))
        b, (gf, gt) = features.shape[0], self.grid
        patches = features.view(b, gf, self.patch_bins, gt, self.patch_frames).permute(0, 1, 3, 2, 4)
        observed = valid.view(b, 1, gt, self.patch_frames).any(dim=-1).expand(b, gf, gt)
        return patches.reshape(b, gf * gt, -1), observed.reshape(b, gf * gt)

    def _transform(self, tokens: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        padding = ~observed & ~(~observed).all(dim=1, keepdim=True)  # never a row of no keys
        return self._run_blocks(tokens, padding)

    def forward_tokens(self, x: torch.Tensor, keep_index: torch.Tensor | None = None,
                       mask: torch.Tensor | None = None, mask_token: torch.Tensor | None = None) -> torch.Tensor:
        patches, observed = self._patches(x)
        tokens = self._embed_tokens(self.patch_embed(patches), keep_index, mask, mask_token)
        if keep_index is not None:
            observed = gather_tokens(observed[..., None], keep_index)[..., 0]
        return self._transform(tokens, observed)

    def token_targets(self, x: torch.Tensor) -> torch.Tensor:
        return self._patches(x)[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches, observed = self._patches(x)
        tokens = self._transform(self._embed_tokens(self.patch_embed(patches)), observed)
        weight = observed[..., None].to(tokens.dtype)
        return (tokens * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)

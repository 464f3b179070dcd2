"""The wav2vec-style encoder: a convolutional feature encoder on the waveform and a transformer
context network (Baevski et al. 2020, wav2vec 2.0, Section 2; HuBERT uses the same, Hsu et al.
2021, Section III).

Besides the audio encoder contract (:mod:`selfsup.modalities.audio.encoders.logmel_cnn`), the
encoder exposes the stages the speech methods need, so they can mask between them:

``features(x) -> (z [B, T', conv_channels], valid [B, T'])``
    the local features :math:`z_t` of the conv stack (wav2vec 2.0's latent speech
    representations, what its quantiser discretises), ``valid`` False past each clip's end.
``project(z) -> h [B, T', dim]``
    LayerNorm + linear projection to the transformer width (where the methods put their mask
    embedding).
``context(h, valid) -> list of [B, T', dim]``
    the output of every transformer layer (HuBERT's second iteration clusters one of them);
    the last is the contextualised representation :math:`c_t`.

``forward_sequence(x, mask)`` composes the three (``mask [B, T']``, True = masked frames zeroed
before the transformer) and ``forward(x)`` mean-pools the last layer over the valid frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from selfsup.encoders.base import dropout_rate, positive_int
from selfsup.errors import SelfsupError
from selfsup.modalities.audio.data.source import AudioSpec
from selfsup.modalities.audio.frontend import lengths, valid_mask
from selfsup.registry import ENCODERS

#: (kernel, stride) of the conv layers on 16 kHz waveforms: wav2vec 2.0's, 400-sample receptive
#: field, one frame every 320 samples (20 ms)
WAVEFORM_LAYERS = ((10, 5), (3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2))
#: on features already framed (10 ms MFCC/log-mel frames): one frame every 2 (20 ms)
FEATURE_LAYERS = ((3, 1), (3, 2))


#: the conv stack's normalisation (``conv_norm``)
CONV_NORMS = ("layer", "group")


class ConvLayer(nn.Module):
    """``Conv1d -> LayerNorm over channels -> GELU`` (wav2vec 2.0's ``layer_norm`` feature
    extractor: a per-frame norm, so padding after a clip cannot change its frames)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride, bias=False)
        self.norm = nn.LayerNorm(c_out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(self.norm(self.conv(h).transpose(1, 2)).transpose(1, 2))


class GroupNormConvLayer(nn.Module):
    """``Conv1d -> [per-channel norm over the clip's valid frames] -> GELU``: wav2vec 2.0 BASE's
    ``default`` feature extractor (``GroupNorm(C, C)`` after the first conv only, no norm after the
    others, Kaiming-normal conv weights as the authors' code). The statistics are taken over each
    clip's own frames, so padding after a clip cannot change its frames here either."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, normalise: bool) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride, bias=False)
        nn.init.kaiming_normal_(self.conv.weight)
        self.norm = nn.GroupNorm(c_out, c_out) if normalise else None

    def forward(self, h: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """``h [B, C_in, T] -> [B, C_out, T']``; ``frames [B]`` valid output frames of each clip."""
        h = self.conv(h)
        if self.norm is not None:
            keep = valid_mask(frames, h.shape[-1])[:, None].to(h.dtype)
            count = keep.sum(-1, keepdim=True).clamp_min(1.0)
            mean = (h * keep).sum(-1, keepdim=True) / count
            var = ((h - mean) * keep).pow(2).sum(-1, keepdim=True) / count
            h = (h - mean) * torch.rsqrt(var + self.norm.eps) * self.norm.weight[:, None] + self.norm.bias[:, None]
            h = h * keep
        return nn.functional.gelu(h)


@ENCODERS.register(
    "wav2vec_transformer", modality="audio", sequence=True,
    paper="Baevski et al. 2020, wav2vec 2.0 (Section 2)",
    description="wav2vec 2.0's conv feature encoder (waveform, 20 ms frames) + a small transformer",
)
class Wav2VecEncoder(nn.Module):
    """Conv feature encoder + transformer (see the module doc).

    Args:
        spec: the data's :class:`AudioSpec`; waveforms take wav2vec 2.0's seven conv layers
            (kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2), features (MFCCs) two conv layers
            over frames.
        conv_channels: conv width (paper 512).
        dim / depth / heads / mlp_ratio: transformer (paper BASE: 768 / 12 / 12 / 4).
        dropout: in the transformer (paper 0.1).
        pos_conv_kernel: the convolutional relative position embedding's kernel (paper 128 with
            16 groups; 31 here for short clips).
        conv_norm: ``"layer"``: a LayerNorm over channels after every conv (the paper's LARGE
            extractor); ``"group"``: BASE's (:class:`GroupNormConvLayer`). On waveforms the
            randomly initialised ``"layer"`` stack gives frames that are no more alike 20 ms apart
            than across clips (spoken_words: cosine 0.51 at every lag), which leaves wav2vec2's
            masked frames nothing to be predicted from; ``wav2vec2`` therefore builds ``"group"``.
    """

    def __init__(self, spec: AudioSpec, conv_channels: int = 64, dim: int = 128, depth: int = 2,
                 heads: int = 4, mlp_ratio: int = 2, dropout: float = 0.1, pos_conv_kernel: int = 31,
                 conv_norm: str = "layer") -> None:
        super().__init__()
        name = "wav2vec_transformer"
        if not isinstance(spec, AudioSpec):
            raise SelfsupError(f"Encoder {name!r} takes audio; the data is described by {spec!r}.")
        self.spec = spec
        conv_channels = positive_int(conv_channels, "conv_channels", name)
        self.dim = self.output_dim = self.sequence_dim = positive_int(dim, "dim", name)
        heads = positive_int(heads, "heads", name)
        if dim % heads:
            raise SelfsupError(f"Option dim ({dim}) of encoder {name!r} must be divisible by heads ({heads}).")
        self.layers_spec: Sequence[tuple[int, int]] = WAVEFORM_LAYERS if spec.waveform else FEATURE_LAYERS
        c_in = 1 if spec.waveform else int(spec.features)
        if conv_norm not in CONV_NORMS:
            raise SelfsupError(f"Option conv_norm of encoder {name!r} must be one of {', '.join(CONV_NORMS)}; "
                               f"got {conv_norm!r}.")
        self.conv_norm = conv_norm
        self.convs = nn.Sequential(*(
            ConvLayer(c_in if i == 0 else conv_channels, conv_channels, k, s) if conv_norm == "layer"
            else GroupNormConvLayer(c_in if i == 0 else conv_channels, conv_channels, k, s, normalise=i == 0)
            for i, (k, s) in enumerate(self.layers_spec)))
        self.conv_channels = conv_channels
        self.projection = nn.Sequential(nn.LayerNorm(conv_channels), nn.Linear(conv_channels, dim))
        kernel = positive_int(pos_conv_kernel, "pos_conv_kernel", name) | 1  # odd: centred
        self.pos_conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=4 if dim % 4 == 0 else 1)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, positive_int(mlp_ratio, "mlp_ratio", name) * dim,
                                       dropout_rate(dropout, "dropout", name), activation="gelu",
                                       batch_first=True, norm_first=True)
            for _ in range(positive_int(depth, "depth", name)))
        self.input_norm = nn.LayerNorm(dim)
        self.norm = nn.LayerNorm(dim)

    @property
    def stride(self) -> int:
        """Input samples (or frames) per output frame."""
        stride = 1
        for _, s in self.layers_spec:
            stride *= s
        return stride

    @property
    def receptive_field(self) -> int:
        """Input samples (or frames) one output frame sees (400 for wav2vec 2.0's stack)."""
        field, jump = 1, 1
        for k, s in self.layers_spec:
            field, jump = field + (k - 1) * jump, jump * s
        return field

    def frames(self, n: torch.Tensor) -> torch.Tensor:
        """Valid output frames of clips of ``n`` input samples/frames (at least 1)."""
        for k, s in self.layers_spec:
            n = torch.div(n - k, s, rounding_mode="floor") + 1
        return n.clamp_min(1)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not torch.is_tensor(x) or x.dim() != (2 if self.spec.waveform else 3) or (
                x.dim() == 3 and x.shape[1] != self.spec.features):
            shape = list(x.shape) if torch.is_tensor(x) else type(x).__name__
            want = "waveforms [B, T]" if self.spec.waveform else f"features [B, {self.spec.features}, T]"
            raise SelfsupError(f"Encoder 'wav2vec_transformer' was built for {want}; got {shape} (a "
                               "log-mel view? use views without time/frequency masks with this encoder).")
        n = lengths(x)
        h = torch.nan_to_num(x.float())
        h = h[:, None] if h.dim() == 2 else h
        if self.conv_norm == "layer":
            h = self.convs(h)
        else:
            frames = n
            for layer, (k, s) in zip(self.convs, self.layers_spec):
                frames = (torch.div(frames - k, s, rounding_mode="floor") + 1).clamp_min(0)
                h = layer(h, frames)
        h = h.transpose(1, 2)  # [B, T', C]
        valid = valid_mask(self.frames(n), h.shape[1])
        return h * valid[..., None], valid

    def project(self, z: torch.Tensor) -> torch.Tensor:
        return self.projection(z)

    def context(self, h: torch.Tensor, valid: torch.Tensor) -> list[torch.Tensor]:
        keep = valid[..., None].to(h.dtype)
        h = h * keep
        h = h + nn.functional.gelu(self.pos_conv(h.transpose(1, 2))).transpose(1, 2) * keep
        # wav2vec 2.0 normalises every frame before the first layer: a mask embedding enters at
        # the scale of the frames around it instead of drowning them out
        h = self.input_norm(h) * keep
        outputs = []
        for block in self.blocks:
            h = block(h, src_key_padding_mask=~valid) * keep
            outputs.append(h)
        outputs[-1] = self.norm(outputs[-1]) * keep
        return outputs

    def forward_sequence(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        z, valid = self.features(x)
        h = self.project(z)
        if mask is not None:
            h = h.masked_fill(mask[..., None].to(torch.bool), 0.0)
        return self.context(h, valid)[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, valid = self.features(x)
        c = self.context(self.project(z), valid)[-1]
        weight = valid[..., None].to(c.dtype)
        return (c * weight).sum(dim=1) / weight.sum(dim=1).clamp_min(1.0)

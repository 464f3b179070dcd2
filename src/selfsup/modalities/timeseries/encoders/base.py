"""Time-series encoders: ``x [B, T, C]`` (or ``[B, D, T, C]`` from D devices) -> ``[B, output_dim]``.

Conventions shared by every time-series encoder (the modality's contracts):

* **Missing values.** NaN means "no observation". A timestamp with a NaN in any channel is
  *missing* (TS2Vec's rule); its values are set to 0 before the network, its hidden activations
  are held at 0 after every layer (so a missing timestamp never feeds its neighbours anything
  but the zeros a convolution's own padding would), and it is left out of pooling. Trailing
  missing timestamps are padding, so a series padded with NaN embeds exactly like the same
  series unpadded (up to float rounding; with BatchNorm in eval mode, see :class:`FCN1d`).
* **Devices.** ``x [B, D, T, C]``: each device's series is embedded on its own and the ``D``
  embeddings are averaged; a device with no observation at all is left out of the average.
* **Sequence contract** (what TS2Vec, TS-TCC and CPC need), stated by :class:`SequenceEncoder`:
  ``sequence_dim: int`` and ``forward_sequence(x [B, T, C], mask=None) -> [B, T', sequence_dim]``,
  one latent per timestamp (``T' == T`` for the convolutional encoders) or per patch
  (:class:`~selfsup.modalities.timeseries.encoders.patch_transformer.PatchTransformer`). ``mask`` (bool ``[B, T]``,
  True = masked) is TS2Vec's timestamp masking (Section 3.2): the masked timestamps' latents
  are zeroed right after the input projection (or their inputs, where the first layer mixes
  timestamps; each encoder says which). The random mask is the *method's* choice; ``mask=None``
  masks nothing. :func:`check_sequence_encoder` is what a method calls to fail early.

Encoders: ``dilated_cnn`` (TS2Vec, the modality default) here; ``fcn1d`` and ``resnet1d``
(Wang et al. 2017) in :mod:`selfsup.modalities.timeseries.encoders.conv1d`; ``patch_transformer`` in
:mod:`selfsup.modalities.timeseries.encoders.patch_transformer`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.encoders.base import dropout_rate, flag, positive_int
from selfsup.encoders.tokens import encoder_name
from selfsup.errors import SelfsupError
from selfsup.registry import ENCODERS

__all__ = [
    "CausalCNN", "DilatedCNN", "SequenceEncoder", "SeriesEncoder", "check_sequence_encoder",
    "hold", "positive_ints", "series_shape",
]

#: the attributes a sequence encoder must have
SEQUENCE_ENCODER_ATTRIBUTES = ("sequence_dim", "forward_sequence")


@runtime_checkable
class SequenceEncoder(Protocol):
    """Structural type of a sequence encoder; see the module docstring for the contract."""

    output_dim: int
    sequence_dim: int

    def forward_sequence(self, x: Any, mask: torch.Tensor | None = None) -> torch.Tensor: ...


def check_sequence_encoder(encoder: nn.Module, method_name: str) -> nn.Module:
    """Return ``encoder`` if it has the sequence contract, else raise one clear SelfsupError.

    Example message: ``method 'ts2vec' needs a sequence encoder such as dilated_cnn, fcn1d, …;
    small_cnn has no forward_sequence``.
    """
    missing = [a for a in SEQUENCE_ENCODER_ATTRIBUTES if not hasattr(encoder, a)]
    if missing:
        names = [n for n in ENCODERS.names() if ENCODERS.info(n).sequence]
        raise SelfsupError(
            f"method {method_name!r} needs a sequence encoder such as "
            f"{', '.join(names) or 'dilated_cnn'}; {encoder_name(encoder)} has no "
            f"{' or '.join(missing)}. Choose a time-series encoder (--encoder / encoder.name), "
            "or give yours the attributes of selfsup.modalities.timeseries.encoders.base.SequenceEncoder."
        )
    return encoder


def series_shape(input_shape: Sequence[int], encoder: str) -> tuple[int, int]:
    """``(T, C)`` from ``input_shape`` ``(T, C)`` or ``(D, T, C)``, else a clear SelfsupError."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise SelfsupError(
            f"Encoder {encoder!r} takes time series of shape [T, C] (or [D, T, C] from D "
            f"devices); the data has samples of shape {list(input_shape)}. Choose an encoder "
            "for this modality (e.g. 'small_cnn' for images, 'mlp' for vectors)."
        )
    return shape[-2], shape[-1]


def positive_ints(values: Sequence[int], name: str, encoder: str) -> tuple[int, ...]:
    """A non-empty list of positive ints (``channels``, ``kernel_sizes``), else a SelfsupError."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise SelfsupError(f"Option {name} of encoder {encoder!r} must be a non-empty list of "
                           f"positive integers; got {values!r}.")
    return tuple(positive_int(v, f"{name}[{i}]", encoder) for i, v in enumerate(values))


def hold(h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Hold channel-first activations ``h [B, K, T]`` at 0 where ``keep [B, 1, T]`` is 0."""
    return h * keep


class SeriesEncoder(nn.Module, ABC):
    """Base of the time-series encoders: missing values, devices, pooling, the sequence contract.

    A subclass sets ``name``, ``channels``, ``output_dim``, ``sequence_dim``, ``pool``
    (``"max"`` or ``"mean"``) and implements :meth:`encode_sequence`.
    """

    name: str
    channels: int
    pool: str

    @abstractmethod
    def encode_sequence(
        self, x: torch.Tensor, observed: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(latents [B, T', S], observed [B, T'])`` from ``x [B, T, C]`` with missing set to 0.

        ``observed [B, T]`` is False at missing timestamps; ``mask [B, T]`` (or None) is the
        timestamp mask of the sequence contract.
        """

    def check_input(self, x: Any) -> torch.Tensor:
        if not torch.is_tensor(x) or not x.is_floating_point() or x.dim() not in (3, 4):
            shape = list(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise SelfsupError(
                f"Encoder {self.name!r} takes float series [B, T, C] or [B, D, T, C]; got {shape}."
            )
        if x.shape[-1] != self.channels:
            raise SelfsupError(
                f"Encoder {self.name!r} was built for series with {self.channels} channels; "
                f"got a batch with {x.shape[-1]} (shape {list(x.shape)}). Rebuild it with the "
                "data's input_shape."
            )
        return x

    def _sequence(self, x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        observed = ~torch.isnan(x).any(dim=-1)  # [B, T]
        x = x.masked_fill(~observed[..., None], 0.0)
        if mask is not None:
            if mask.shape != observed.shape:
                raise ValueError(f"mask must be bool [B, T] = {list(observed.shape)}; "
                                 f"got {list(mask.shape)}")
            mask = mask.to(device=x.device, dtype=torch.bool)
        return self.encode_sequence(x, observed, mask)

    def _pooled(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pooled [B, output_dim], has_observation [B])`` for ``x [B, T, C]``."""
        seq, observed = self._sequence(x, None)
        has_observation = observed.any(dim=1)
        if self.pool == "max":
            filled = seq.masked_fill(~observed[..., None], float("-inf"))
            pooled = torch.where(has_observation[:, None], filled.amax(dim=1), 0.0)
        else:
            weight = observed[..., None].to(seq.dtype)
            pooled = (seq * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1.0)
        return pooled, has_observation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [B, T, C]`` or ``[B, D, T, C]`` -> ``[B, output_dim]`` (pooled over observed time)."""
        x = self.check_input(x)
        if x.dim() == 3:
            return self._pooled(x)[0]
        batch, devices = x.shape[:2]
        pooled, has_observation = self._pooled(x.flatten(0, 1))
        return _average_devices(pooled.view(batch, devices, -1), has_observation.view(batch, devices))

    def forward_sequence(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Latents ``[B, T', sequence_dim]``; see the module docstring for ``mask [B, T]``.

        For ``x [B, D, T, C]`` the devices' latents are averaged per position (``mask``
        ``[B, T]`` applies to every device, ``[B, D, T]`` per device).
        """
        x = self.check_input(x)
        if x.dim() == 3:
            return self._sequence(x, mask)[0]
        batch, devices, length = x.shape[:3]
        if mask is not None and mask.dim() == 2:
            mask = mask[:, None].expand(batch, devices, length)
        seq, observed = self._sequence(
            x.flatten(0, 1), None if mask is None else mask.reshape(batch * devices, length)
        )
        seq = seq.view(batch, devices, *seq.shape[1:])
        return _average_devices(seq, observed.view(batch, devices, -1).any(dim=2))


def _average_devices(z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Mean of ``z [B, D, ...]`` over the devices with ``present [B, D]`` True."""
    weight = present.to(z.dtype).view(*present.shape, *([1] * (z.dim() - 2)))
    return (z * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1.0)


class _DilatedBlock(nn.Module):
    """``GELU -> conv -> GELU -> conv`` (kernel k, dilation d) plus a residual connection."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, dilation: int, causal: bool,
                 final: bool) -> None:
        super().__init__()
        reach = (kernel_size - 1) * dilation
        # "same" length: symmetric padding (TS2Vec's code) or all on the left (causal)
        self.padding = (reach, 0) if causal else (reach // 2, reach - reach // 2)
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size, dilation=dilation)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size, dilation=dilation)
        self.projector = nn.Conv1d(c_in, c_out, 1) if final or c_in != c_out else None

    def forward(self, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        residual = h if self.projector is None else self.projector(h)
        out = hold(_padded_conv(F.gelu(h), self.conv1, self.padding), keep)
        out = _padded_conv(F.gelu(out), self.conv2, self.padding)
        return hold(out + residual, keep)


def _padded_conv(h: torch.Tensor, conv: nn.Conv1d, padding: tuple[int, int]) -> torch.Tensor:
    """``conv(F.pad(h, padding))``, skipping the kernel taps that can only ever see padding.

    A tap at offset ``o`` from the output timestamp reads data only if ``|o| < T``; with
    dilations up to 1024 on series of 100-500 steps the outer taps of the last blocks read
    zeros only, and padding for them would make those convolutions 5-20 times longer.
    """
    length, dilation, kernel = h.shape[-1], conv.dilation[0], conv.kernel_size[0]
    offsets = [j * dilation - padding[0] for j in range(kernel)]
    taps = [j for j, o in enumerate(offsets) if -length < o < length]
    if not taps or (taps[0], taps[-1]) == (0, kernel - 1):
        return conv(F.pad(h, padding))
    first, last = taps[0], taps[-1]
    if offsets[first] > 0 or offsets[last] < 0:  # (even kernels) no tap at the timestamp itself
        return conv(F.pad(h, padding))
    weight = conv.weight[:, :, first : last + 1]
    return F.conv1d(F.pad(h, (-offsets[first], offsets[last])), weight, conv.bias, dilation=dilation)


def size_dilated_cnn(length: int, kernel_size: int = 3, full_depth: int = 10) -> dict[str, int]:
    """Options of a ``dilated_cnn`` sized to series of ``length`` steps: the fewest hidden blocks
    whose receptive field spans the whole series in both directions (the output block's included),
    and narrower layers on short series — below 64 steps hidden 32 and a 64-wide representation,
    below 128 a 128-wide one — where the full widths cost most of the time and buy little
    (benchmarks/RESULTS.md, "Defaults sized to the data"). ``{}`` on series long enough for the
    full default (10 blocks, hidden 64, 320 wide)."""
    options: dict[str, int] = {}
    depth = 1
    # each block's two convolutions reach (kernel - 1) * dilation / 2 steps ahead, each side
    while depth < full_depth and (kernel_size - 1) * (2 ** (depth + 1) - 1) < length - 1:
        depth += 1
    if depth < full_depth:
        options["depth"] = depth
    if length < 64:
        options.update(hidden_dim=32, output_dim=64)
    elif length < 128:
        options["output_dim"] = 128
    return options


@ENCODERS.register(
    "dilated_cnn",
    modality="timeseries",
    sequence=True,
    description="TS2Vec's encoder: input projection, timestamp masking, residual dilated "
    "convolutions (dilation 2^i); one latent per timestamp, max-pooled",
)
class DilatedCNN(SeriesEncoder):
    r"""TS2Vec's encoder (Yue et al. 2022, Section 3.1): ``x [B, T, C] -> [B, output_dim]``.

    For each timestamp :math:`t`, an input projection :math:`z_t = W x_t + b` (``C -> hidden``);
    timestamp masking sets :math:`z_t = 0` where ``mask`` is True (and at missing timestamps);
    then residual blocks :math:`h \leftarrow h + \mathrm{conv}_2(\mathrm{GELU}(\mathrm{conv}_1(
    \mathrm{GELU}(h))))` of two 1-D convolutions (kernel 3) with dilation :math:`2^i` in block
    :math:`i`, lengths kept by padding. The last block maps to ``output_dim`` channels (a 1×1
    convolution on its residual path) and is the output projection. The instance embedding is
    the max over the observed timestamps (TS2Vec, Section 4.1: max pooling over all timestamps
    for classification).

    Shapes: ``forward_sequence(x [B, T, C], mask [B, T]) -> [B, T, output_dim]``;
    ``forward(x) -> [B, output_dim]``. ``receptive_field = (past, future)``: output ``t``
    depends on inputs ``t - past … t + future`` only.

    Args:
        input_shape: ``(T, C)`` or ``(D, T, C)``; only ``C`` is fixed, any ``T`` works.
        output_dim: channels of the representation (= ``sequence_dim``).
        hidden_dim: width of the input projection and of the hidden blocks.
        depth: number of hidden blocks (dilations ``1 … 2**(depth - 1)``); the output block
            (dilation ``2**depth``) comes on top.
        kernel_size: kernel of every dilated convolution.
        dropout: dropout on the output latents (training only).
        causal: pad on the left only, so output ``t`` sees inputs up to ``t`` (T-Loss's causal
            convolutions, Franceschi et al. 2019); TS2Vec pads symmetrically.

    Paper defaults vs. library defaults:
        * representation 320, hidden 64, dilation ``2**i`` (Section 3.1 and the Appendix's
          implementation details), kernel 3 (released code); depth: the text says ten residual
          blocks, the released code builds ``depth = 10`` hidden blocks plus the output block
          (11 in all, receptive field ±4094). Library: the same, following the code.
        * padding: the paper's text does not ask for causal convolutions and the released
          code pads symmetrically ("same"), so a latent sees its past and its future. Library:
          ``causal=False``; the issue's "dilated causal CNN" is ``causal=True``.
        * dropout 0.1 on the output (the released code's ``repr_dropout``). Library: 0.1.
        * missing timestamps: the code zeroes them once, after the input projection; here
          they are also held at 0 after every layer, so NaN padding never reaches an observed
          timestamp (a padded series embeds exactly as the unpadded one). Series without NaN
          are encoded identically either way.
        * the random timestamp mask (binomial, p = 0.5) is drawn by the TS2Vec *method* and
          passed as ``mask``; the encoder never masks on its own.
    """

    name = "dilated_cnn"
    pool = "max"

    def __init__(
        self,
        input_shape: Sequence[int],
        output_dim: int = 320,
        hidden_dim: int = 64,
        depth: int = 10,
        kernel_size: int = 3,
        dropout: float = 0.1,
        causal: bool = False,
    ) -> None:
        super().__init__()
        _, self.channels = series_shape(input_shape, self.name)
        for option, value in (("output_dim", output_dim), ("hidden_dim", hidden_dim),
                              ("depth", depth), ("kernel_size", kernel_size)):
            positive_int(value, option, self.name)
        dropout_rate(dropout, "dropout", self.name)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_dim = self.sequence_dim = output_dim
        self.causal = flag(causal, "causal", self.name)
        self.input_projection = nn.Linear(self.channels, hidden_dim)
        widths = [hidden_dim] * depth + [output_dim]
        self.blocks = nn.ModuleList(
            _DilatedBlock(hidden_dim if i == 0 else widths[i - 1], widths[i], kernel_size,
                          dilation=2**i, causal=self.causal, final=i == depth)
            for i in range(depth + 1)
        )
        self.dropout = nn.Dropout(dropout)

    @property
    def receptive_field(self) -> tuple[int, int]:
        """``(past, future)``: how far back and ahead one output latent sees (2 convs a block)."""
        return (sum(2 * b.padding[0] for b in self.blocks), sum(2 * b.padding[1] for b in self.blocks))

    def encode_sequence(
        self, x: torch.Tensor, observed: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        latent = self.input_projection(x)  # [B, T, hidden]
        keep = observed if mask is None else observed & ~mask
        latent = latent * keep[..., None].to(latent.dtype)  # timestamp masking (Section 3.2)
        h = latent.transpose(1, 2)  # [B, hidden, T]
        hold_missing = observed[:, None].to(h.dtype)  # [B, 1, T]
        for block in self.blocks:
            h = block(h, hold_missing)
        return self.dropout(h.transpose(1, 2)), observed


@ENCODERS.register(
    "causal_cnn",
    modality="timeseries",
    sequence=True,
    description="dilated_cnn with causal convolutions (T-Loss's encoder): latent t sees inputs "
    "<= t only, as CPC needs",
)
class CausalCNN(DilatedCNN):
    """:class:`DilatedCNN` with ``causal=True`` (Franceschi et al. 2019, "Unsupervised Scalable
    Representation Learning for Multivariate Time Series", Section 3: causal dilated convolutions).

    Predictive methods (CPC) need it: with symmetric padding every latent sees the whole series,
    so predicting the future from the context is trivial. The options are DilatedCNN's. A class
    of its own, so its errors and :func:`~selfsup.encoders.tokens.encoder_name` say
    ``causal_cnn``, the name the user chose.
    """

    name = "causal_cnn"

    def __init__(
        self,
        input_shape: Sequence[int],
        output_dim: int = 320,
        hidden_dim: int = 64,
        depth: int = 10,
        kernel_size: int = 3,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(input_shape, output_dim, hidden_dim, depth, kernel_size, dropout,
                         causal=True)

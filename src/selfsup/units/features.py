"""Frame-level features of an encoder over a data set: what units are fitted on and assigned to.

A *frame* is whatever an encoder gives one vector per position for, through the contracts of
ARCHITECTURE.md:

- the **sequence contract** (``forward_sequence(x) -> [B, T', D]``): time-series timestamps
  or patches, audio frames;
- the **token contract** (``forward_tokens(x) -> [B, N, D]``): image patches, a table's
  feature tokens.

``forward_sequence`` is preferred where an encoder has both (its padding is handled).
``layer=L`` (1-based) reads the output of ``encoder.blocks[L - 1]`` instead of the final
output: transformer blocks give ``[B, S, D]`` (a leading CLS token is dropped: the last ``N``
positions are kept), convolutional blocks ``[B, D, T]`` (transposed).

Which frames exist: an encoder may say it with ``frame_mask(x) -> bool [B, T']`` (TOTEM does);
otherwise, when the frames are the input's time steps (``x [B, T, C]`` with ``T' == T``), a
time step with a NaN (padding, missing) is left out, as the series encoders leave it out of
pooling; otherwise a frame whose final output is exactly zero is padding (the audio encoders
hold the frames past a clip's end at zero) and every other frame counts.

Labels, the first that applies:

1. the data's **segment labels** (``DataSource.segment_labels``, the phones of ``spoken_words``):
   frame ``j`` takes the label of the segment covering its centre, input step
   ``j * stride + (receptive_field - 1) / 2`` (:func:`frame_centres`), for an encoder that says its
   ``stride`` and ``receptive_field`` in input steps (``wav2vec_transformer``); an encoder that does
   not falls through to 3, and the measures say why;
2. a batch's frame labels ``"frame_y"`` (``-1`` for none), either one per frame ``[B, T']`` or one
   per input step ``[B, T]`` (then frame ``j`` of ``T'`` takes the label of the step at its
   centre, ``floor((j + 1/2) T / T')``: frames that follow time in order, as every encoder but
   TOTEM's channel-stacked one gives);
3. the sample's label ``"y"`` on each of its frames.

``Frames.labels_from`` says which, in words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from selfsup.data.segments import SegmentLabels
from selfsup.errors import SelfsupError


@dataclass
class Frames:
    """The frames of ``N`` samples, flattened: sample ``i`` owns rows
    ``offsets[i]:offsets[i + 1]`` of ``features`` (and of ``labels``).

    Attributes:
        features: float32 ``[M, D]``.
        offsets: int64 ``[N + 1]``.
        labels: int64 ``[M]`` frame labels (``-1`` where unknown), or None for unlabeled data.
        sample_labels: int64 ``[N]`` or None.
        frame_labels: whether ``labels`` are true frame labels (segment labels or ``"frame_y"``)
            rather than each sample's label repeated.
        labels_from: what ``labels`` are, in words (``"phone at each frame's centre"``).
    """

    features: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray | None = None
    sample_labels: np.ndarray | None = None
    frame_labels: bool = False
    labels_from: str = ""

    @property
    def num_samples(self) -> int:
        return len(self.offsets) - 1


def layer_count(encoder: nn.Module) -> int:
    """How many layers ``--layer`` can pick from (``len(encoder.blocks)``; 0 when none)."""
    blocks = getattr(encoder, "blocks", None)
    return len(blocks) if isinstance(blocks, nn.ModuleList) else 0


def check_layer(encoder: nn.Module, layer: int | None, where: str) -> None:
    """One SelfsupError for a ``layer`` the encoder of ``where`` does not have."""
    if layer is None:
        return
    count = layer_count(encoder)
    if count == 0:
        raise SelfsupError(f"--layer {layer}: the encoder of {where} ({type(encoder).__name__}) exposes no "
                           "layers (encoder.blocks); leave --layer out to use its final output.")
    if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= count:
        raise SelfsupError(f"--layer {layer} is out of range: the encoder of {where} has layers 1..{count}.")


def check_frame_encoder(encoder: nn.Module, where: str) -> None:
    """One SelfsupError unless the encoder of ``where`` gives frames (sequence or token contract)."""
    if not (hasattr(encoder, "forward_sequence") or hasattr(encoder, "forward_tokens")):
        raise SelfsupError(
            f"The encoder of {where} ({type(encoder).__name__}) gives one vector per sample only; units need "
            "one per frame, patch or token (an encoder with forward_sequence or forward_tokens: "
            "dilated_cnn, patch_transformer, vit_tiny …)."
        )


def _final_frames(encoder: nn.Module, x: Any) -> torch.Tensor:
    if hasattr(encoder, "forward_sequence"):
        return encoder.forward_sequence(x)
    return encoder.forward_tokens(x)


def _is_attention_block(block: nn.Module) -> bool:
    return any(isinstance(m, nn.MultiheadAttention) for m in block.modules())


@torch.no_grad()
def frame_outputs(encoder: nn.Module, x: Any, layer: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(frames [B, T', D], final [B, T', D_final])``: the frames of block ``layer`` (the final
    ones when None) and the final frames of ``encoder`` for ``x``."""
    if layer is None:
        final = _final_frames(encoder, x)
        return final, final
    block = encoder.blocks[layer - 1]
    captured: list[torch.Tensor] = []
    handle = block.register_forward_hook(lambda _m, _i, out: captured.append(out[0] if isinstance(out, tuple) else out))
    try:
        final = _final_frames(encoder, x)
    finally:
        handle.remove()
    if not captured or captured[-1].dim() != 3:
        raise SelfsupError(f"--layer {layer}: the blocks of {type(encoder).__name__} do not give one vector per "
                           "frame ([B, T, D] or [B, D, T]); leave --layer out to use its final output.")
    hidden = captured[-1]  # the last call: the whole batch (device-stacked inputs call it once)
    if hidden.shape[0] != final.shape[0]:
        raise SelfsupError(f"--layer reads one output per sample; block {layer} of {type(encoder).__name__} "
                           f"ran on {hidden.shape[0]} rows for {final.shape[0]} samples (several devices?).")
    frames = final.shape[1]
    hidden = hidden[:, -frames:] if _is_attention_block(block) else hidden.transpose(1, 2)
    if hidden.shape[1] != frames:
        raise SelfsupError(f"--layer {layer}: block {layer} of {type(encoder).__name__} gives {hidden.shape[1]} frames "
                           f"per sample and the encoder {frames}; units from a layer need the output's frame rate.")
    return hidden, final


def frame_mask(encoder: nn.Module, x: Any, final: torch.Tensor) -> torch.Tensor:
    """bool ``[B, T']``: which frames exist (see the module docstring); ``final`` is the
    encoder's final frames ``[B, T', D]``."""
    if hasattr(encoder, "frame_mask"):
        return encoder.frame_mask(x)
    if torch.is_tensor(x) and x.is_floating_point() and x.dim() == 3 and x.shape[1] == final.shape[1]:
        return ~torch.isnan(x).any(dim=-1)
    return final.abs().amax(dim=-1) > 0


def frame_centres(encoder: nn.Module, frames: int) -> np.ndarray | None:
    """float64 ``[frames]``: the input step at the centre of each output frame,
    ``j * stride + (receptive_field - 1) / 2``, for an encoder that says its ``stride`` and
    ``receptive_field`` in input steps (``wav2vec_transformer``: 320 and 400 samples); None for
    one that does not."""
    stride, field = getattr(encoder, "stride", None), getattr(encoder, "receptive_field", None)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (stride, field)):
        return None
    return np.arange(frames) * float(stride) + (field - 1) / 2


def labels_at_frames(frame_y: torch.Tensor, frames: int) -> torch.Tensor:
    """``frame_y [B, T]`` -> ``[B, frames]``: the label at the centre of each frame (identity when
    ``T == frames``)."""
    steps = frame_y.shape[1]
    centres = ((torch.arange(frames, device=frame_y.device) + 0.5) * steps / frames).long().clamp(max=steps - 1)
    return frame_y[:, centres]


def collect_frames(
    encoder: nn.Module,
    loaders: Iterable[Iterable[dict[str, Any]]],
    finish: Any = None,
    layer: int | None = None,
    segments: SegmentLabels | None = None,
) -> Frames:
    """Run ``encoder`` (in evaluation mode, on its device) over every batch of ``loaders`` and
    keep the existing frames of each sample, in order. ``segments``: the segment labels of the
    samples the batches' ``"index"`` points at (one split), read at the frames' centres (see the
    module docstring)."""
    from selfsup.eval.suite import move_to

    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    features, counts, labels, sample_labels = [], [], [], []
    labels_from = "sample (no frame labels)"
    if segments is not None and frame_centres(encoder, 1) is None:
        labels_from = (f"sample (the data has {segments.name} labels, but {type(encoder).__name__} does not say "
                       "where its frames lie: no stride / receptive_field)")
        segments = None
    try:
        for loader in loaders:
            for batch in loader:
                batch = move_to(batch, device)
                if finish is not None:
                    batch = finish(batch)
                out, final = frame_outputs(encoder, batch["x"], layer)
                out = out.float()
                keep = frame_mask(encoder, batch["x"], final).to(out.device)
                features.append(out[keep].cpu())
                counts.append(keep.sum(1).cpu())
                if segments is not None:
                    labels_from = f"{segments.name} at each frame's centre"
                    centres = frame_centres(encoder, keep.shape[1])
                    at = np.stack([segments.at(int(i), centres) for i in batch["index"].tolist()])
                    labels.append(torch.from_numpy(at)[keep.cpu()])
                elif "frame_y" in batch:
                    labels_from = "frame (the batches' frame_y)"
                    labels.append(labels_at_frames(batch["frame_y"], keep.shape[1])[keep].long().cpu())
                elif "y" in batch:
                    labels.append(batch["y"].long()[:, None].expand_as(keep)[keep].cpu())
                if "y" in batch:
                    sample_labels.append(batch["y"].long().cpu())
    finally:
        encoder.train(was_training)
    if not features:
        raise SelfsupError("There is nothing to encode: the data has 0 samples.")
    offsets = np.concatenate([[0], torch.cat(counts).cumsum(0).numpy()]).astype(np.int64)
    return Frames(
        features=torch.cat(features).numpy(),
        offsets=offsets,
        labels=torch.cat(labels).numpy() if labels else None,
        sample_labels=torch.cat(sample_labels).numpy() if sample_labels else None,
        frame_labels=not labels_from.startswith("sample"),
        labels_from=labels_from if labels else "",
    )

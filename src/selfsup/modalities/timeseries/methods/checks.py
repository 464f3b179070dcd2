"""Checks the time-series methods share (TS2Vec, TS-TCC, CPC): the sequence-encoder contract,
the length of the latent sequence, and their arguments. It registers nothing."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError


def sequence_encoder(encoder: nn.Module, method_name: str) -> nn.Module:
    """Return ``encoder`` if it has the sequence contract, else raise one clear SelfsupError.

    The contract (``sequence_dim`` and ``forward_sequence(x, mask=None) -> [B, T', D]``) is
    defined and checked by :func:`selfsup.modalities.timeseries.encoders.base.check_sequence_encoder`; this
    imports it lazily so that ``selfsup.methods`` does not import modality code at import time.
    """
    try:
        from selfsup.modalities.timeseries.encoders.base import check_sequence_encoder
    except ImportError:  # the time-series encoders are not installed: check the attributes here
        missing = [a for a in ("sequence_dim", "forward_sequence") if not hasattr(encoder, a)]
        if missing:
            raise SelfsupError(
                f"method {method_name!r} needs a sequence encoder (one latent per timestamp or "
                f"patch) such as dilated_cnn; {type(encoder).__name__} has no "
                f"{' or '.join(missing)}. Choose a time-series encoder (--encoder / encoder.name)."
            ) from None
        return encoder
    check_sequence_encoder(encoder, method_name)
    return encoder


def positive_int(value: Any, name: str) -> int:
    """``value`` if it is an integer (not a bool) ``>= 1``, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def probability(value: Any, name: str, *, open_high: bool = False) -> float:
    """``float(value)`` if it lies in ``[0, 1]`` (``[0, 1)`` with ``open_high``), else a
    ValueError naming ``name``."""
    value = float(value)
    if not (0.0 <= value < 1.0 if open_high else 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be in [0, 1{')' if open_high else ']'}, got {value!r}")
    return value


def check_prediction_length(latents: torch.Tensor, steps: int, method: str) -> None:
    """A SelfsupError naming ``method`` unless the latents ``[B, T', D]`` reach more than
    ``steps`` steps past the first one (TS-TCC and CPC predict ``steps`` future latents)."""
    if latents.shape[1] <= steps:
        raise SelfsupError(
            f"{method} predicts prediction_steps={steps} future latents, but the encoder gives "
            f"only {latents.shape[1]} per series; lower method.prediction_steps below "
            f"{latents.shape[1]} or use longer series."
        )

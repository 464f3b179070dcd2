"""Helpers shared by the encoders: validating the per-sample input shape."""

from __future__ import annotations

from collections.abc import Sequence

from selfsup.errors import SelfsupError


def image_shape(input_shape: Sequence[int], encoder: str) -> tuple[int, int, int]:
    """``input_shape`` as ``(C, H, W)``, or a SelfsupError saying the encoder needs images."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise SelfsupError(
            f"Encoder {encoder!r} takes images of shape [C, H, W]; the data has samples of "
            f"shape {list(input_shape)}. Choose an encoder for this modality (e.g. 'mlp')."
        )
    return shape  # type: ignore[return-value]


def positive_int(value: int, name: str, encoder: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SelfsupError(f"Option {name} of encoder {encoder!r} must be a positive integer; "
                           f"got {value!r}.")
    return value

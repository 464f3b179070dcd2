"""Helpers shared by the encoders: validating the per-sample input shape and the options.

Each check raises a :class:`SelfsupError` naming the option and the encoder, so a bad value in a
recipe is one line, before anything is built."""

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


def flag(value: bool, name: str, encoder: str) -> bool:
    """``value`` if it is ``true`` or ``false`` (a string such as ``"no"`` would be truthy)."""
    if not isinstance(value, bool):
        raise SelfsupError(f"Option {name} of encoder {encoder!r} must be true or false; "
                           f"got {value!r}.")
    return value


def dropout_rate(value: float, name: str, encoder: str) -> float:
    """``float(value)`` if it is a number in ``[0, 1)`` (NaN is refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise SelfsupError(f"Option {name} of encoder {encoder!r} must be a number in [0, 1); "
                           f"got {value!r}.")
    return float(value)


def positive_number(value: float, name: str, encoder: str) -> float:
    """``float(value)`` if it is a number ``> 0`` (NaN is refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise SelfsupError(f"Option {name} of encoder {encoder!r} must be a number > 0; "
                           f"got {value!r}.")
    return float(value)

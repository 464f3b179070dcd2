"""Argument checks shared by methods and losses, so one rule has one wording.

Each raises a ``ValueError`` naming the argument; the ``check_*`` functions that return
give the value back, so a constructor can check and store in one line
(``self.num_views = check_int(num_views, "num_views")``).

Two checks for "positive" exist on purpose: :func:`check_positive_number` also refuses
non-numbers and booleans (for arguments that typically come from YAML recipes), while
:func:`check_positive` only compares, so tensors and NumPy scalars pass.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` if it is an integer (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_positive_number(value: Any, name: str) -> float:
    """``float(value)`` if ``value`` is an int or float (not a bool) ``> 0``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


def check_positive(**values: Any) -> None:
    """Every keyword's value is ``> 0`` (NaN is refused): ``check_positive(temperature=t)``."""
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")


def check_pair(name: str, a: Tensor, b: Tensor) -> None:
    """``a`` and ``b`` are ``[B, D]`` tensors of equal shape; ``name`` is the caller's."""
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(f"{name} expects two [B, D] tensors of equal shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def check_weight(value: Any, name: str) -> float:
    """``float(value)`` if it is a number (not a bool) ``>= 0``; NaN and infinities are refused
    (a loss weight)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


_DURATION_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``300``, ``"300"``, ``"90s"``, ``"5m"``, ``"5min"`` or ``"1.5h"``; a ValueError
    saying what is accepted for anything else, zero or a negative duration."""
    text = str(value).strip().lower()
    number, unit = text, "s"
    for suffix in sorted(_DURATION_UNITS, key=len, reverse=True):
        if text.endswith(suffix):
            number, unit = text[: -len(suffix)].strip(), suffix
            break
    try:
        if isinstance(value, bool):
            raise ValueError  # noqa: TRY004 - pydantic reports a ValueError as the config error
        seconds = float(number) * _DURATION_UNITS[unit]
    except ValueError:
        raise ValueError(f"{value!r} is not a duration; write seconds or e.g. 90s, 5m, 1.5h") from None
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{value!r} is not a positive duration; write e.g. 90s, 5m, 1.5h")
    return seconds

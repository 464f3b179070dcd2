"""Argument checks of the queue and momentum-encoder contrastive methods (MoCo v2, MoCo v3,
NNCLR), and their warning about a queue as large as the data set. It registers nothing.

The library-wide checks are in :mod:`selfsup.validate`; these keep the wording these methods
have always used.
"""

from __future__ import annotations

import warnings
from typing import Any


def check_positive_int(value: Any, name: str) -> int:
    """``value`` if it is an integer (not a bool) ``>= 1``, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def check_temperature(temperature: Any) -> float:
    """``float(temperature)`` if it is a number ``> 0``, else a ValueError."""
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    return float(temperature)


def warn_if_queue_covers_data(
    name: str, key: str, queue_size: int, num_samples: int, what: str
) -> None:
    """Warn when a queue of ``queue_size`` embeddings holds as many as the data set's
    ``num_samples``: it then holds an older copy of every sample of the current batch — for
    MoCo a stale duplicate of the positive among the negatives, for NNCLR a "neighbour" that
    is the sample itself. Called from a method's ``prepare``.

    Args:
        name: the method's registry name, shown in the warning.
        key: the hyper-parameter that sets the queue size (``queue_size``, ``support_set_size``).
        queue_size: its value.
        num_samples: the number of training samples.
        what: what goes wrong for this method, in a few words.
    """
    if queue_size >= num_samples:
        warnings.warn(
            f"{name}: {key}={queue_size} >= the {num_samples} training samples, so the queue "
            f"holds an older copy of every sample of the current batch ({what}). Set {key} "
            f"well below the data-set size (e.g. {max(1, num_samples // 3)}).",
            stacklevel=3,
        )

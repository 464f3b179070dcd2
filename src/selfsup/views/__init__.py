"""The view-maker contract and the modality-free identity views.

Modality view makers (batched, on-device augmentation) live in their modality's package and are
built by name from :data:`selfsup.registry.VIEWS`.
"""

from __future__ import annotations

from collections.abc import Sequence

from selfsup.registry import VIEWS
from selfsup.views.base import IdentityViews, ViewMaker

__all__ = ["IdentityViews", "ViewMaker", "identity_views"]


@VIEWS.register("none", modality="any", description="no augmentation: every view is the input")
def identity_views(input_shape: Sequence[int] | None = None) -> IdentityViews:
    """Views equal to the input, for any modality (evaluation, methods that mask by themselves)."""
    return IdentityViews()

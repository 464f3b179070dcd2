"""View makers: batched, on-device augmentation and masking per modality."""

from __future__ import annotations

from collections.abc import Sequence

from selfsup.registry import VIEWS
from selfsup.views.base import IdentityViews, ViewMaker

# Importing the modality modules registers their view makers.
from selfsup.views.images import BYOLViews, ImageViews  # noqa: E402
from selfsup.views.multicrop import MultiCropViews  # noqa: F401
from selfsup.views.rotation import RotationViews  # noqa: F401
from selfsup.views.timeseries import TimeSeriesViews, TSTCCViews  # noqa: F401
from selfsup.views.ts2vec_crops import TS2VecCrops  # noqa: F401

__all__ = ["BYOLViews", "IdentityViews", "ImageViews", "ViewMaker", "identity_views"]


@VIEWS.register("none", modality="any", description="no augmentation: every view is the input")
def identity_views(input_shape: Sequence[int] | None = None) -> IdentityViews:
    """Views equal to the input, for any modality (evaluation, methods that mask by themselves)."""
    return IdentityViews()

"""Multi-crop views: a few large *global* crops plus several small, low-resolution *local* ones.

Multi-crop was introduced by SwAV (Caron et al. 2020, Section 3.2) and is the view maker of
DINO (Caron et al. 2021, Section 3.1): the teacher sees only the global crops, the student
sees every crop, so the student learns "local-to-global" correspondences. Local crops are
cheap because they are small (96 px instead of 224 px in DINO).

The view maker knows no method: ``views(batch, n)`` returns ``n`` views, views
``0 .. num_global_views - 1`` global and the rest local. A method that wants ``G`` global
and ``L`` local crops asks for ``G + L`` views and must agree with ``num_global_views``.
The photometric part reuses :class:`~selfsup.modalities.image.views.augment.BYOLViews` (DINO's augmentations
are BYOL's, see ``DataAugmentationDINO`` in the DINO code); only the crop differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.image.views.augment import (
    BYOLViews,
    Probability,
    augmentation_pipeline,
    image_input_shape,
)
from selfsup.registry import VIEWS
from selfsup.views.base import ViewMaker

LocalSize = float | int | Sequence[int] | str | None


@VIEWS.register(
    "multicrop",
    modality="image",
    paper="Caron et al. 2021, Emerging Properties in Self-Supervised Vision Transformers (DINO), "
    "Section 3.1; multi-crop from Caron et al. 2020 (SwAV), Section 3.2",
    description="global crops (full size) + smaller local crops; BYOL/DINO colour augmentations",
)
class MultiCropViews(ViewMaker):
    """``num_global_views`` global crops at the input size, then local crops at ``local_size``.

    Defaults are DINO's (Caron et al. 2021, Section 3.1 and ``DataAugmentationDINO`` in the
    official code): global crop scale (0.4, 1), local crop scale (0.05, 0.4), local crops of
    96/224 of the side; flip 0.5; colour jitter p 0.8 (brightness 0.4, contrast 0.4,
    saturation 0.2, hue 0.1); grayscale 0.2; blur p 1.0 on global view 0, 0.1 on global view 1
    (which is also solarised with p 0.2), 0.5 on local views.

    Tiny images (shorter side ≤ 32 px) get global crops of scale (0.5, 1), local crops of
    scale (0.25, 0.6) at 3/4 of the side, and no blur. Measured on 8×8 digits with a
    supervised ``small_cnn`` trained and tested on crops of one setting (accuracy = how
    readable the crops are): DINO's local crops, (0.05, 0.4) at 3×3 px, 0.30; the same at
    6×6, 0.42; (0.2, 0.5) at 6×6, 0.67; (0.25, 0.6) at 6×6, 0.75; global (0.4, 1) at 8×8,
    0.91. DINO on digits (60 epochs, ``small_cnn``) reached kNN 0.969 with global (0.4, 1) +
    local (0.2, 0.5) and 0.981 with the defaults (global (0.5, 1) + local (0.25, 0.6)).

    Args:
        input_shape: ``(C, H, W)`` of one sample; global views keep this shape.
        num_global_views: how many of the first views are global crops.
        global_scale: area fraction range of the global crops.
        local_scale: area fraction range of the local crops.
        local_size: output size of the local crops: ``"auto"`` (the defaults above), a float
            in (0, 1] (fraction of each side), an int (square side in pixels), ``(h, w)``, or
            ``None`` for the input size — needed by encoders with a fixed input size, such as
            ``vit_tiny`` (its position-embedding grid); ``small_cnn`` and the ResNets pool
            adaptively and take any size.
        crop_ratio: aspect-ratio range of every crop.
        hflip, jitter, grayscale: probabilities, as in :class:`~selfsup.modalities.image.views.augment.ImageViews`.
        jitter_strength, jitter_factors, blur_sigma, blur_kernel: as in ``ImageViews``.
        blur, solarize: probabilities for the global views (one number, or one per global view).
        local_blur: probability of blur on the local views.
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "global_scale": (0.4, 1.0),
        "local_scale": (0.05, 0.4),
        "local_size": 96 / 224,
        "local_blur": 0.5,
    }
    TINY_SIDE: ClassVar[int] = 32
    TINY_DEFAULTS: ClassVar[dict[str, Any]] = {
        "global_scale": (0.5, 1.0),
        "local_scale": (0.25, 0.6),
        "local_size": 0.75,
        "local_blur": 0.0,
    }

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        num_global_views: int = 2,
        global_scale: Sequence[float] | None = None,
        local_scale: Sequence[float] | None = None,
        local_size: LocalSize = "auto",
        crop_ratio: Sequence[float] | None = None,
        hflip: Probability | None = None,
        jitter: Probability | None = None,
        jitter_strength: float | None = None,
        jitter_factors: Sequence[float] | None = None,
        grayscale: Probability | None = None,
        blur: Probability | None = None,
        solarize: Probability | None = None,
        local_blur: Probability | None = None,
        blur_sigma: Sequence[float] | None = None,
        blur_kernel: int | None = None,
    ) -> None:
        super().__init__()
        self.input_shape = image_input_shape(input_shape, type(self).__name__)
        _, height, width = self.input_shape
        if isinstance(num_global_views, bool) or not isinstance(num_global_views, int) \
                or num_global_views < 1:
            raise SelfsupError(
                f"num_global_views must be an integer ≥ 1; got {num_global_views!r}."
            )
        self.num_global_views = num_global_views
        settings = dict(self.DEFAULTS)
        if min(height, width) <= self.TINY_SIDE:
            settings.update(self.TINY_DEFAULTS)
        given = {"global_scale": global_scale, "local_scale": local_scale, "local_blur": local_blur}
        settings.update({k: v for k, v in given.items() if v is not None})
        if local_size != "auto":
            settings["local_size"] = local_size
        self.local_size = _local_size(settings["local_size"], (height, width))

        shared = {
            "crop_ratio": crop_ratio, "hflip": hflip, "jitter": jitter,
            "jitter_strength": jitter_strength, "jitter_factors": jitter_factors,
            "grayscale": grayscale, "blur_sigma": blur_sigma, "blur_kernel": blur_kernel,
        }
        # Both kinds are BYOL/DINO pipelines; BYOLViews validates every setting.
        self.global_views = BYOLViews(
            self.input_shape, crop_scale=settings["global_scale"], blur=blur, solarize=solarize,
            **shared,
        )
        self.local_views = BYOLViews(
            self.input_shape, crop_scale=settings["local_scale"], blur=settings["local_blur"],
            solarize=0.0, **shared,
        )
        # Same transforms, but the crop is resized to the local size instead of the input size.
        self.local_views.pipelines = nn.ModuleList(
            augmentation_pipeline(config, self.local_size) for config in self.local_views.view_configs
        )

    def augment(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """View ``i``: a global crop ``[B, C, H, W]`` if ``i < num_global_views``, else a local
        crop ``[B, C, *local_size]``."""
        if i < self.num_global_views:
            return self.global_views.augment(x, i)
        return self.local_views.augment(x, i - self.num_global_views)

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, num_global_views={self.num_global_views}, " \
               f"local_size={self.local_size}"


def _local_size(value: LocalSize, full: tuple[int, int]) -> tuple[int, int]:
    """Resolve ``local_size`` to ``(h, w)`` pixels (see :class:`MultiCropViews`)."""
    problem = (
        f"local_size must be None (the input size {list(full)}), a fraction in (0, 1], "
        f"a side in pixels or (height, width); got {value!r}."
    )
    if value is None:
        return full
    if isinstance(value, (bool, str)):
        raise SelfsupError(problem)
    if isinstance(value, float):
        if not 0.0 < value <= 1.0:
            raise SelfsupError(problem)
        return tuple(max(1, round(value * side)) for side in full)  # type: ignore[return-value]
    if isinstance(value, int):
        value = (value, value)
    try:
        size = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise SelfsupError(problem) from None
    if len(size) != 2 or min(size) < 1:
        raise SelfsupError(problem)
    return size  # type: ignore[return-value]

"""Rotation views for transformation prediction (RotNet), batched on the device.

View ``i`` of a batch is every image rotated by ``(i mod 4) * 90`` degrees counter-clockwise
(``torch.rot90(x, i, dims=(-2, -1))``), optionally after one mild random resized crop and
flip per sample. When a method asks for several views at once, all of them rotate the *same*
crop, as RotNet feeds "all four rotated copies of an image simultaneously" (Gidaris et al.
2018, Section 2.2): the views then differ by their rotation only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import kornia.augmentation as K
import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.image.views.augment import (
    check_probabilities,
    check_range,
    image_input_shape,
    random_resized_crop,
)
from selfsup.registry import VIEWS
from selfsup.views.base import ViewMaker


@VIEWS.register(
    "rotation",
    modality="image",
    paper="Gidaris et al. 2018, Unsupervised Representation Learning by Predicting Image "
    "Rotations",
    description="view i = the image (mild crop, flip) rotated by (i mod 4) * 90 degrees",
)
class RotationViews(ViewMaker):
    """View ``i`` = rotation by ``(i mod 4) * 90`` degrees of a mildly cropped, flipped image.

    Args:
        input_shape: ``(C, H, W)``; the images must be square so every rotation keeps the shape.
        crop_scale: area range of the random resized crop, or None for no crop. Default
            (0.5, 1): a mild crop, enough that the 4 rotations of the training set are not
            memorised, small enough to keep the object upright-recognisable.
        crop_ratio: aspect-ratio range of the crop.
        hflip: probability of a horizontal flip (before rotating; set 0 for digits/text).

    Input and output: float ``[B, C, H, W]``.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        crop_scale: Sequence[float] | None = (0.5, 1.0),
        crop_ratio: Sequence[float] = (3 / 4, 4 / 3),
        hflip: float = 0.5,
    ) -> None:
        super().__init__()
        self.input_shape = image_input_shape(input_shape, "rotation views")
        _, height, width = self.input_shape
        if height != width:
            raise SelfsupError(
                f"rotation views need square images (a 90-degree turn of {height}x{width} changes "
                "the shape); resize the images (data option image_size)."
            )
        steps: list[nn.Module] = []
        if crop_scale is not None:
            scale = check_range(crop_scale, "crop_scale", low=0.0, high=1.0)
            ratio = check_range(crop_ratio, "crop_ratio", low=0.0, high=float("inf"))
            steps.append(random_resized_crop((height, width), scale, ratio))
        flip = check_probabilities(hflip, "hflip")[0]
        if flip > 0:
            steps.append(K.RandomHorizontalFlip(p=flip))
        self.base = nn.Sequential(*steps)

    def _check(self, x: Any) -> None:
        if not torch.is_tensor(x) or x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            got = list(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise SelfsupError(
                f"rotation views were built for images of shape {list(self.input_shape)} "
                f"([C, H, W]) but got a batch {got}."
            )
        if not x.is_floating_point():
            raise TypeError(f"rotation views need a float tensor, got {x.dtype}")

    @staticmethod
    def rotate(x: torch.Tensor, i: int) -> torch.Tensor:
        """``x [B, C, H, W]`` rotated by ``(i mod 4) * 90`` degrees counter-clockwise."""
        return torch.rot90(x, i % 4, dims=(-2, -1))

    def _crop(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.base) == 0:
            return x
        return self.base(x.float()).to(x.dtype)

    def augment(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """One view: a fresh crop/flip of ``x``, rotated by ``(i mod 4) * 90`` degrees."""
        self._check(x)
        with torch.no_grad():
            return self.rotate(self._crop(x), i)

    def forward(self, batch: dict[str, Any], n: int = 4) -> list[dict[str, Any]]:
        """``n`` views of one shared crop/flip per sample; view ``i`` is rotated by ``i`` turns."""
        x = batch["x"]
        self._check(x)
        with torch.no_grad():
            base = self._crop(x)
            return [{**batch, "x": self.rotate(base, i)} for i in range(n)]

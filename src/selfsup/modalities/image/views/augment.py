"""Batched image augmentations on the device (kornia), with the SimCLR and BYOL recipes.

Every transform draws its random parameters per sample, on the whole batch at once, on the
batch's device — no per-image PIL work in DataLoader workers. Inputs are float ``[B, C, H, W]``
in [0, 1]; outputs have the same shape and range. The view maker knows no method: a method
asks for ``n`` views and gets ``n`` augmented copies of the batch.

Probabilities (``hflip``, ``jitter``, ``grayscale``, ``blur``, ``solarize``) may be one number
or one per view, e.g. ``blur=(1.0, 0.1)``; view ``i`` uses entry ``i % len``, so asking for
4 views of an asymmetric pair gives A, B, A, B.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import kornia.augmentation as K
import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.registry import VIEWS
from selfsup.views.base import ViewMaker

Probability = float | Sequence[float]
_PER_VIEW = ("hflip", "jitter", "grayscale", "blur", "solarize")


@VIEWS.register(
    "simclr",
    modality="image",
    paper="Chen et al. 2020, A Simple Framework for Contrastive Learning (SimCLR), Appendix A",
    description="random resized crop, flip, colour jitter, grayscale, blur",
)
class ImageViews(ViewMaker):
    """Random resized crop → flip → colour jitter → grayscale → Gaussian blur → solarize.

    Defaults are SimCLR's (Chen et al. 2020, Appendix A): crop scale (0.08, 1), ratio
    (3/4, 4/3), flip 0.5, colour jitter with probability 0.8 and strength s = 1
    (brightness, contrast, saturation 0.8 s, hue 0.2 s), grayscale 0.2, blur 0.5 with a
    kernel of 10 % of the side and sigma in (0.1, 2.0), no solarisation.

    Tiny images (shorter side ≤ 32 px) get the CIFAR-10 setting of SimCLR (Appendix B.9):
    jitter strength s = 0.5 and no blur (a blur kernel of 3 px on a 32 px image wipes out
    most of the detail). The crop scale's lower bound becomes 0.2: 8 % of 32×32 is a 9×9
    patch (of 8×8 it is ~2×2), upsampled into mostly interpolation, so pairs share too little
    content to be matched; 0.2 is the common CIFAR choice (MoCo v2, solo-learn).
    Every setting can be overridden by keyword.

    Args:
        input_shape: ``(C, H, W)`` of one sample; views keep this shape.
        crop_scale: range of the crop's area fraction.
        crop_ratio: range of the crop's aspect ratio.
        hflip: probability of a horizontal flip (``0.0`` for digits/text).
        jitter: probability of colour jitter.
        jitter_strength: s, scaling the recipe's jitter factors.
        jitter_factors: explicit (brightness, contrast, saturation, hue); replaces strength.
            Images without 3 channels only get brightness and contrast.
        grayscale: probability of grayscale conversion (3-channel images only).
        blur: probability of Gaussian blur.
        blur_sigma: range of the blur's sigma (pixels).
        blur_kernel: odd kernel size; default 10 % of the shorter side, at least 3.
        solarize: probability of solarisation at threshold 0.5.
    """

    #: recipe defaults; a subclass replaces them to make another recipe
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "crop_scale": (0.08, 1.0),
        "crop_ratio": (3 / 4, 4 / 3),
        "hflip": 0.5,
        "jitter": 0.8,
        "jitter_strength": 1.0,
        "grayscale": 0.2,
        "blur": 0.5,
        "blur_sigma": (0.1, 2.0),
        "solarize": 0.0,
    }
    #: jitter factors (brightness, contrast, saturation, hue) at strength 1
    JITTER_AT_STRENGTH_1: ClassVar[tuple[float, float, float, float]] = (0.8, 0.8, 0.8, 0.2)
    #: overrides for images whose shorter side is at most TINY_SIDE pixels
    TINY_SIDE: ClassVar[int] = 32
    TINY_DEFAULTS: ClassVar[dict[str, Any]] = {
        "crop_scale": (0.2, 1.0),
        "jitter_strength": 0.5,
        "blur": 0.0,
    }

    def __init__(
        self,
        input_shape: Sequence[int],
        *,
        crop_scale: Sequence[float] | None = None,
        crop_ratio: Sequence[float] | None = None,
        hflip: Probability | None = None,
        jitter: Probability | None = None,
        jitter_strength: float | None = None,
        jitter_factors: Sequence[float] | None = None,
        grayscale: Probability | None = None,
        blur: Probability | None = None,
        blur_sigma: Sequence[float] | None = None,
        blur_kernel: int | None = None,
        solarize: Probability | None = None,
    ) -> None:
        super().__init__()
        self.input_shape = image_input_shape(input_shape, type(self).__name__)
        channels, height, width = self.input_shape
        given = {
            "crop_scale": crop_scale, "crop_ratio": crop_ratio, "hflip": hflip,
            "jitter": jitter, "jitter_strength": jitter_strength, "grayscale": grayscale,
            "blur": blur, "blur_sigma": blur_sigma, "solarize": solarize,
        }
        if jitter_strength is not None and jitter_factors is not None:
            raise SelfsupError("Give jitter_strength or jitter_factors, not both.")
        settings = dict(self.DEFAULTS)
        if min(height, width) <= self.TINY_SIDE:
            settings.update(self.TINY_DEFAULTS)
        settings.update({k: v for k, v in given.items() if v is not None})

        scale = check_range(settings["crop_scale"], "crop_scale", low=0.0, high=1.0)
        ratio = check_range(settings["crop_ratio"], "crop_ratio", low=0.0, high=float("inf"))
        sigma = check_range(settings["blur_sigma"], "blur_sigma", low=0.0, high=float("inf"))
        if jitter_factors is None:
            jitter_factors = [settings["jitter_strength"] * f for f in self.JITTER_AT_STRENGTH_1]
        factors = [float(f) for f in jitter_factors]
        if len(factors) != 4 or min(factors) < 0 or factors[3] > 0.5:
            raise SelfsupError(
                "jitter_factors must be 4 numbers ≥ 0 "
                "(brightness, contrast, saturation, hue ≤ 0.5); "
                f"got {list(jitter_factors)}."
            )
        if channels != 3:
            factors[2:] = [0.0, 0.0]  # saturation and hue need RGB; kornia rejects them otherwise
        if blur_kernel is None:
            blur_kernel = max(3, round(0.1 * min(height, width)) // 2 * 2 + 1)
        if blur_kernel < 1 or blur_kernel % 2 == 0:
            raise SelfsupError(f"blur_kernel must be a positive odd integer; got {blur_kernel}.")

        probabilities = {k: check_probabilities(settings[k], k) for k in _PER_VIEW}
        n_pipelines = max(len(p) for p in probabilities.values())
        self.view_configs: list[dict[str, Any]] = []
        pipelines = []
        for i in range(n_pipelines):
            p = {k: v[i % len(v)] for k, v in probabilities.items()}
            config = {
                "crop_scale": scale, "crop_ratio": ratio, "hflip": p["hflip"],
                "jitter": p["jitter"], "jitter_factors": tuple(factors),
                "grayscale": p["grayscale"] if channels == 3 else 0.0,
                "blur": p["blur"], "blur_kernel": blur_kernel, "blur_sigma": sigma,
                "solarize": p["solarize"],
            }
            self.view_configs.append(config)
            pipelines.append(augmentation_pipeline(config, (height, width)))
        self.pipelines = nn.ModuleList(pipelines)

    def augment(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """View ``i`` of ``x``: float ``[B, C, H, W]`` in [0, 1] -> same shape, new random draw."""
        if not torch.is_tensor(x) or tuple(x.shape[1:]) != self.input_shape or x.dim() != 4:
            got = list(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise SelfsupError(
                f"{type(self).__name__} was built for images of shape {list(self.input_shape)} "
                f"([C, H, W]) but got a batch {got}; build the views with the data's input_shape."
            )
        if not x.is_floating_point():
            raise TypeError(f"image views need a float tensor in [0, 1], got {x.dtype}")
        # Augmentation is part of the input, not the model: never record it for autograd.
        with torch.no_grad():
            out = self.pipelines[i % len(self.pipelines)](x.float())
            return out.clamp_(0.0, 1.0).to(x.dtype)

    def extra_repr(self) -> str:
        return f"input_shape={self.input_shape}, views={self.view_configs}"


@VIEWS.register(
    "byol",
    modality="image",
    paper="Grill et al. 2020, Bootstrap Your Own Latent (BYOL), Table 6",
    description="SimCLR-style views, asymmetric: blur 1.0/0.1, solarize 0.0/0.2",
)
class BYOLViews(ImageViews):
    """BYOL's asymmetric pair (Grill et al. 2020, Table 6).

    Both views: crop scale (0.08, 1), flip 0.5, colour jitter p 0.8 with brightness 0.4,
    contrast 0.4, saturation 0.2, hue 0.1, grayscale 0.2. View 0: blur p 1.0, no
    solarisation; view 1: blur p 0.1, solarize p 0.2. Tiny images (≤ 32 px) use crop scale
    (0.2, 1) and no blur, as for :class:`ImageViews`; the jitter is kept.
    """

    DEFAULTS: ClassVar[dict[str, Any]] = {
        **ImageViews.DEFAULTS,
        "blur": (1.0, 0.1),
        "solarize": (0.0, 0.2),
    }
    JITTER_AT_STRENGTH_1: ClassVar[tuple[float, float, float, float]] = (0.4, 0.4, 0.2, 0.1)
    TINY_DEFAULTS: ClassVar[dict[str, Any]] = {"crop_scale": (0.2, 1.0), "blur": 0.0}


def augmentation_pipeline(config: dict[str, Any], size: tuple[int, int]) -> nn.Sequential:
    """kornia transforms for one view; transforms with probability 0 are left out (cheaper)."""
    steps: list[nn.Module] = [random_resized_crop(size, config["crop_scale"], config["crop_ratio"])]
    if config["hflip"] > 0:
        steps.append(K.RandomHorizontalFlip(p=config["hflip"]))
    if config["jitter"] > 0 and any(config["jitter_factors"]):
        steps.append(K.ColorJitter(*config["jitter_factors"], p=config["jitter"]))
    if config["grayscale"] > 0:
        steps.append(K.RandomGrayscale(p=config["grayscale"]))
    if config["blur"] > 0:
        kernel = config["blur_kernel"]
        steps.append(K.RandomGaussianBlur((kernel, kernel), config["blur_sigma"], p=config["blur"]))
    if config["solarize"] > 0:
        # thresholds/additions 0 -> a fixed threshold of 0.5 and no brightness shift (BYOL)
        steps.append(K.RandomSolarize(thresholds=0.0, additions=0.0, p=config["solarize"]))
    return nn.Sequential(*steps)


def random_resized_crop(size: tuple[int, int], scale: Sequence[float], ratio: Sequence[float]) -> nn.Module:
    """kornia's RandomResizedCrop warping the whole batch at once (``resample``): the same crops
    and, to 1e-5, the same pixels as its default per-image slicing and resizing, in half the time
    on 8×8 digits (benchmarks/RESULTS.md, "Framework overhead")."""
    return K.RandomResizedCrop(size, scale=tuple(scale), ratio=tuple(ratio), cropping_mode="resample")


def image_input_shape(input_shape: Sequence[int], who: str) -> tuple[int, int, int]:
    """``input_shape`` as ``(C, H, W)``, or one SelfsupError saying that ``who`` takes images."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise SelfsupError(
            f"{who} needs image input of shape [C, H, W]; got {list(input_shape)}. "
            "Use views for your data's modality, or 'none'."
        )
    return shape  # type: ignore[return-value]


def check_range(value: Sequence[float], name: str, low: float, high: float) -> tuple[float, float]:
    """``value`` as a ``(low_end, high_end)`` pair inside ``[low, high]``, or one SelfsupError naming ``name``."""
    try:
        pair = tuple(float(v) for v in value) if not isinstance(value, str) else ()
    except (TypeError, ValueError):
        pair = ()
    if len(pair) != 2 or not (low <= pair[0] <= pair[1] <= high) or pair[1] <= 0:
        raise SelfsupError(
            f"{name} must be a range (low, high) with {low} ≤ low ≤ high ≤ {high}; "
            f"got {value!r}."
        )
    return pair  # type: ignore[return-value]


def check_probabilities(value: Probability, name: str) -> list[float]:
    """A probability, or one per view, as a list of floats in [0, 1]; else one SelfsupError naming ``name``."""
    values = list(value) if isinstance(value, Sequence) else [value]
    if not values or not all(isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for v in values):
        raise SelfsupError(
            f"{name} must be a probability in [0, 1], or one per view such as (1.0, 0.1); "
            f"got {value!r}."
        )
    return [float(v) for v in values]

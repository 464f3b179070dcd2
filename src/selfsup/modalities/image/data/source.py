"""How image arrays become a :class:`~selfsup.data.base.DataSource`: the input spec and the
on-device conversion of compact ``uint8`` storage to float."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from selfsup.data.base import DataBundle, DataSource


class ImageSpec(NamedTuple):
    """One image's shape, ``(channels, height, width)``; what image encoders and views take.

    A tuple, so ``ENCODERS.build("small_cnn", (1, 8, 8))`` works as well as with the spec."""

    channels: int
    height: int
    width: int

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": [self.channels, self.height, self.width]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageSpec:
        return cls(*(int(s) for s in data["input_shape"]))


class PixelsToFloat:
    """On the device: integer pixels ``x`` become float32 ``x / max_value`` in [0, 1].

    Images are stored compactly (``uint8``: 4x less memory and host-to-device traffic than
    float32) and converted only once they are where the model runs. Float batches pass as
    they are."""

    def __init__(self, max_value: float = 255.0) -> None:
        self.max_value = float(max_value)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        x = batch["x"]
        if isinstance(x, torch.Tensor) and not x.is_floating_point():
            batch = {**batch, "x": x.float() / self.max_value}
        return batch

    def __repr__(self) -> str:
        return f"PixelsToFloat(max_value={self.max_value:g})"


def image_source(bundle: DataBundle, max_value: float = 255.0) -> DataSource:
    """The DataSource of decoded images ``[N, C, H, W]`` (``uint8`` pixels out of ``max_value``,
    or float in [0, 1])."""
    spec = ImageSpec(*bundle.x_train.shape[1:])
    source = bundle.to_source(spec, on_device=PixelsToFloat(max_value))
    if spec.height * spec.width == 1:
        source.notes.append(
            f"The images of {bundle.name!r} are 1×1 pixel: crops, flips and masks cannot change them, "
            "so pretraining can learn nothing a random encoder does not have. Check the array's shape."
        )
    return source

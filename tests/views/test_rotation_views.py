"""Rotation views: view i is the (shared) crop rotated by (i mod 4) quarter turns."""

from __future__ import annotations

import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modalities.image.views.rotation import RotationViews
from selfsup.registry import VIEWS


def test_view_i_equals_torch_rot90_by_i_without_crop():
    views = RotationViews((2, 6, 6), crop_scale=None, hflip=0.0)
    x = torch.rand(3, 2, 6, 6)
    batch = {"x": x, "index": torch.arange(3)}
    out = views(batch, 8)
    assert len(out) == 8
    for i, view in enumerate(out):
        assert torch.equal(view["x"], torch.rot90(x, i, dims=(-2, -1)))
        assert torch.equal(view["index"], batch["index"])  # other keys carried over
        assert torch.equal(views.augment(x, i), torch.rot90(x, i, dims=(-2, -1)))
    # a quarter turn really moves pixels: the top-left corner goes to the bottom-left
    assert torch.equal(out[1]["x"][..., -1, 0], x[..., 0, 0])


def test_all_views_rotate_the_same_random_crop():
    torch.manual_seed(0)
    views = RotationViews((1, 8, 8), crop_scale=(0.3, 0.6), hflip=0.5)
    x = torch.rand(5, 1, 8, 8)
    out = [v["x"] for v in views({"x": x}, 4)]
    base = out[0]
    assert not torch.allclose(base, x)  # the crop did something
    for i, view in enumerate(out):
        assert torch.equal(torch.rot90(view, -i, dims=(-2, -1)), base)


def test_rotation_views_are_registered_for_images_and_take_digits_settings():
    entry = VIEWS.entry("rotation")
    assert entry.factory is RotationViews and entry.info.modality == "image"
    views = VIEWS.build("rotation", (1, 8, 8), hflip=0.0, crop_scale=(0.5, 1.0))
    assert views({"x": torch.rand(2, 1, 8, 8)}, 4)[3]["x"].shape == (2, 1, 8, 8)


def test_rotation_views_refuse_non_square_or_mismatched_images():
    with pytest.raises(SelfsupError, match="square"):
        RotationViews((1, 8, 6))
    with pytest.raises(SelfsupError, match="shape"):
        RotationViews((1, 8, 8))({"x": torch.rand(2, 1, 6, 6)}, 4)
    with pytest.raises(SelfsupError, match="crop_scale"):
        RotationViews((1, 8, 8), crop_scale=(0.8, 0.2))

"""Batched kornia image views: shapes, per-sample randomness, recipes, overrides."""

from __future__ import annotations

import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modalities.image.views.augment import BYOLViews, ImageViews
from selfsup.registry import VIEWS
from selfsup.views import IdentityViews

IDENTITY_CROP = {"crop_scale": (1.0, 1.0), "crop_ratio": (1.0, 1.0)}


@pytest.mark.parametrize("name", ["simclr", "byol"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (3, 40, 48)])
def test_views_keep_shape_range_and_other_keys(name, shape):
    views = VIEWS.build(name, shape)
    batch = {"x": torch.rand(6, *shape), "y": torch.arange(6), "index": torch.arange(6)}
    out = views(batch, 2)
    assert len(out) == 2
    for view in out:
        assert view["x"].shape == batch["x"].shape and view["x"].dtype == torch.float32
        assert 0.0 <= float(view["x"].min()) and float(view["x"].max()) <= 1.0
        assert view["y"] is batch["y"] and view["index"] is batch["index"]


def test_identical_samples_get_different_views():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32).repeat(8, 1, 1, 1)
    out = ImageViews((3, 32, 32)).augment(x, 0)
    distinct = {tuple(sample.flatten()[:50].tolist()) for sample in out}
    assert len(distinct) == 8


def test_two_calls_differ_and_a_seed_reproduces_them():
    views = ImageViews((1, 8, 8))
    x = torch.rand(16, 1, 8, 8)
    torch.manual_seed(1)
    first, second = views.augment(x, 0), views.augment(x, 0)
    assert not torch.equal(first, second)
    torch.manual_seed(1)
    assert torch.equal(first, views.augment(x, 0))


def test_byol_pair_is_asymmetric_as_in_table_6():
    configs = BYOLViews((3, 96, 96)).view_configs
    assert [c["blur"] for c in configs] == [1.0, 0.1]
    assert [c["solarize"] for c in configs] == [0.0, 0.2]
    assert configs[0]["jitter_factors"] == (0.4, 0.4, 0.2, 0.1)
    assert configs[0]["crop_scale"] == (0.08, 1.0) and configs[0]["grayscale"] == 0.2


def test_byol_asymmetry_shows_in_the_outputs():
    x = torch.rand(64, 1, 8, 8)
    views = BYOLViews((1, 8, 8), **IDENTITY_CROP, hflip=0.0, jitter=0.0, solarize=(0.0, 1.0))
    # the whole-image crop is a warp onto the same grid: the pixels to float rounding
    assert torch.allclose(views.augment(x, 0), x, atol=1e-5)
    assert torch.allclose(views.augment(x, 1), torch.where(x < 0.5, x, 1 - x), atol=1e-5)
    assert torch.allclose(views.augment(x, 2), x, atol=1e-5)  # view i uses pipeline i % 2


def test_simclr_defaults_follow_the_paper_and_scale_down_for_tiny_images():
    large = ImageViews((3, 224, 224)).view_configs[0]
    assert large["crop_scale"] == (0.08, 1.0) and large["jitter_factors"] == (0.8, 0.8, 0.8, 0.2)
    assert large["blur"] == 0.5 and large["blur_kernel"] == 23 and large["grayscale"] == 0.2
    tiny = ImageViews((3, 32, 32)).view_configs[0]
    assert tiny["crop_scale"] == (0.2, 1.0) and tiny["blur"] == 0.0
    assert tiny["jitter_factors"] == pytest.approx((0.4, 0.4, 0.4, 0.1))


def test_one_channel_images_only_get_brightness_and_contrast():
    config = ImageViews((1, 64, 64), jitter_strength=1.0).view_configs[0]
    assert config["jitter_factors"] == (0.8, 0.8, 0.0, 0.0) and config["grayscale"] == 0.0
    out = ImageViews((1, 64, 64), jitter=1.0).augment(torch.rand(4, 1, 64, 64), 0)
    assert out.shape == (4, 1, 64, 64)


def test_keyword_overrides_change_the_pipeline():
    x = torch.rand(4, 1, 8, 8)
    flip = ImageViews((1, 8, 8), **IDENTITY_CROP, hflip=1.0, jitter=0.0)
    assert torch.allclose(flip.augment(x, 0), x.flip(-1), atol=1e-5)
    config = ImageViews((3, 96, 96), hflip=0.0, crop_scale=(0.5, 1.0), blur=0.0).view_configs[0]
    assert config["hflip"] == 0.0 and config["crop_scale"] == (0.5, 1.0) and config["blur"] == 0.0


def test_no_gradient_leaks_through_the_views():
    views = ImageViews((3, 32, 32))
    x = torch.rand(4, 3, 32, 32, requires_grad=True)
    assert not views.augment(x, 0).requires_grad
    assert list(views.parameters()) == []
    with torch.no_grad():
        assert views.augment(x, 1).shape == x.shape


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"blur": 1.5}, "blur must be a probability"),
        ({"crop_scale": (0.9, 0.1)}, "crop_scale must be a range"),
        ({"jitter_factors": (0.1, 0.1)}, "jitter_factors must be 4 numbers"),
        ({"blur_kernel": 4}, "odd"),
        ({"jitter_strength": 1.0, "jitter_factors": (0.1, 0.1, 0.1, 0.1)}, "not both"),
        ({"solarise": 0.2}, "Did you mean 'solarize'"),
    ],
)
def test_bad_settings_raise_one_clear_error(kwargs, match):
    with pytest.raises(SelfsupError, match=match):
        VIEWS.build("simclr", (3, 32, 32), **kwargs)


def test_wrong_input_shape_raises():
    with pytest.raises(SelfsupError, match=r"\[C, H, W\]"):
        ImageViews((64,))
    with pytest.raises(SelfsupError, match="built for images of shape"):
        ImageViews((3, 32, 32)).augment(torch.rand(2, 1, 32, 32), 0)


def test_none_views_return_the_input():
    views = VIEWS.build("none", (1, 8, 8))
    assert isinstance(views, IdentityViews)
    x = torch.rand(2, 1, 8, 8)
    assert all(view["x"] is x for view in views({"x": x}, 3))


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_batched_crop_equals_kornias_per_image_crop_on_the_same_draw(shape):
    import kornia.augmentation as K

    from selfsup.modalities.image.views.augment import random_resized_crop

    x = torch.rand(32, *shape)
    torch.manual_seed(0)
    batched = random_resized_crop(shape[1:], (0.2, 1.0), (3 / 4, 4 / 3))(x)
    torch.manual_seed(0)
    per_image = K.RandomResizedCrop(shape[1:], scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3), cropping_mode="slice")(x)
    assert not torch.allclose(batched, x, atol=1e-2)  # it did crop
    assert torch.allclose(batched, per_image, atol=1e-5)

"""Multi-crop views: global crops at the input size, local crops at local_size, DINO's recipe."""

from __future__ import annotations

import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modalities.image.views.multicrop import MultiCropViews
from selfsup.registry import ENCODERS, VIEWS


def _shapes(views: MultiCropViews, shape: tuple[int, ...], n: int) -> list[tuple[int, ...]]:
    batch = {"x": torch.rand(3, *shape), "index": torch.arange(3)}
    out = views(batch, n)
    assert all(v["index"] is batch["index"] for v in out)
    for v in out:
        assert v["x"].dtype == torch.float32 and 0.0 <= float(v["x"].min())
        assert float(v["x"].max()) <= 1.0
    return [tuple(v["x"].shape[1:]) for v in out]


def test_multicrop_returns_global_views_first_then_local_views_at_dinos_sizes():
    views = VIEWS.build("multicrop", (3, 224, 224), blur=0.0, local_blur=0.0, jitter=0.0)
    assert views.local_size == (96, 96)  # DINO's 224 / 96
    assert _shapes(views, (3, 224, 224), 4) == [(3, 224, 224)] * 2 + [(3, 96, 96)] * 2


def test_multicrop_follows_dinos_recipe_on_large_images():
    views = MultiCropViews((3, 224, 224))
    first, second = views.global_views.view_configs
    (local,) = views.local_views.view_configs
    assert first["crop_scale"] == (0.4, 1.0) and local["crop_scale"] == (0.05, 0.4)
    assert (first["blur"], second["blur"], local["blur"]) == (1.0, 0.1, 0.5)
    assert (first["solarize"], second["solarize"], local["solarize"]) == (0.0, 0.2, 0.0)
    assert first["jitter_factors"] == (0.4, 0.4, 0.2, 0.1) and first["grayscale"] == 0.2


def test_multicrop_tiny_images_get_larger_local_crops():
    views = MultiCropViews((1, 8, 8))
    assert views.local_size == (6, 6)
    assert views.local_views.view_configs[0]["crop_scale"] == (0.25, 0.6)
    assert views.global_views.view_configs[0]["crop_scale"] == (0.5, 1.0)
    assert _shapes(views, (1, 8, 8), 5) == [(1, 8, 8)] * 2 + [(1, 6, 6)] * 3


@pytest.mark.parametrize(
    "local_size,expected",
    [(0.5, (16, 24)), (10, (10, 10)), ((12, 20), (12, 20)), (None, (32, 48)), (1.0, (32, 48))],
)
def test_multicrop_local_size_is_a_fraction_pixels_or_the_input_size(local_size, expected):
    views = MultiCropViews((3, 32, 48), local_size=local_size, num_global_views=1)
    assert views.local_size == expected
    assert _shapes(views, (3, 32, 48), 3) == [(3, 32, 48), (3, *expected), (3, *expected)]


@pytest.mark.parametrize("bad", [0.0, 1.5, 0, (4,), (4, 0), "big", True])
def test_multicrop_rejects_bad_local_sizes(bad):
    with pytest.raises(SelfsupError, match="local_size"):
        MultiCropViews((1, 8, 8), local_size=bad)


def test_multicrop_rejects_bad_settings():
    with pytest.raises(SelfsupError, match="num_global_views"):
        MultiCropViews((1, 8, 8), num_global_views=0)
    with pytest.raises(SelfsupError, match="crop_scale"):
        MultiCropViews((1, 8, 8), local_scale=(0.5, 0.2))


def test_multicrop_local_views_are_crops_of_the_requested_area():
    # A single bright pixel: a local crop of at most 1/4 of the area, resized to the full
    # size, rarely contains it; a global crop of at least 90 % nearly always does.
    x = torch.zeros(200, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    views = MultiCropViews(
        (1, 16, 16), global_scale=(0.9, 1.0), local_scale=(0.1, 0.25), local_size=None,
        jitter=0.0, hflip=0.0, solarize=0.0,
    )
    torch.manual_seed(0)
    global_view, local_view = views.augment(x, 0), views.augment(x, 2)
    assert (global_view.amax(dim=(1, 2, 3)) > 0).float().mean() > 0.95
    assert (local_view.amax(dim=(1, 2, 3)) > 0).float().mean() < 0.6


def test_multicrop_is_registered_for_images():
    entry = VIEWS.entry("multicrop")
    assert entry.factory is MultiCropViews and entry.info.modality == "image"


@pytest.mark.parametrize("encoder", ["small_cnn", "resnet18"])
def test_adaptively_pooled_encoders_take_the_default_local_crops(encoder):
    views, net = MultiCropViews((1, 8, 8)), ENCODERS.build(encoder, (1, 8, 8))
    out = views({"x": torch.rand(2, 1, 8, 8)}, 3)
    assert [tuple(net(v["x"]).shape) for v in out] == [(2, net.output_dim)] * 3


def test_a_fixed_size_encoder_needs_local_size_none():
    net = ENCODERS.build("vit_tiny", (1, 8, 8))
    x = {"x": torch.rand(2, 1, 8, 8)}
    with pytest.raises(RuntimeError):  # the 6x6 crop does not match the position grid
        net(MultiCropViews((1, 8, 8))(x, 3)[2]["x"])
    for view in MultiCropViews((1, 8, 8), local_size=None)(x, 3):
        assert net(view["x"]).shape == (2, net.output_dim)

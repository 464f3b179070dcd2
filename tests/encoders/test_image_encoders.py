"""Image encoders (and the generic MLP): shapes, output_dim, stems, ViT token access."""

from __future__ import annotations

import pytest
import torch

from selfsup.encoders import MLPEncoder
from selfsup.errors import SelfsupError
from selfsup.modalities.image.encoders.cnn import SmallCNN
from selfsup.modalities.image.encoders.resnet import ResNetEncoder
from selfsup.modalities.image.encoders.vit import ViTEncoder, default_patch_size, sincos_pos_embed
from selfsup.registry import ENCODERS

SMALL_VIT = {"depth": 2, "dim": 32, "heads": 2}


@pytest.mark.parametrize(
    "name, shape, kwargs, dim",
    [
        ("small_cnn", (1, 8, 8), {}, 128),
        ("small_cnn", (3, 32, 32), {"width": 8, "output_dim": 20}, 20),
        ("resnet18", (1, 8, 8), {}, 512),
        ("resnet18", (3, 32, 32), {"small_stem": False}, 512),
        ("resnet50", (3, 16, 16), {}, 2048),
        ("vit_tiny", (1, 8, 8), {}, 192),
        ("vit_tiny", (3, 32, 32), SMALL_VIT, 32),
        ("mlp", (1, 8, 8), {}, 256),
        ("mlp", (7,), {"hidden_dims": (16,), "output_dim": 5}, 5),
    ],
)
def test_encoder_maps_batch_to_output_dim(name, shape, kwargs, dim):
    encoder = ENCODERS.build(name, shape, **kwargs)
    out = encoder(torch.rand(2, *shape))
    assert encoder.output_dim == dim and out.shape == (2, dim)


@pytest.mark.parametrize("name", ["small_cnn", "resnet18", "vit_tiny", "mlp"])
def test_every_parameter_gets_a_gradient(name):
    # an unused parameter would make DistributedDataParallel fail
    kwargs = SMALL_VIT if name == "vit_tiny" else {}
    encoder = ENCODERS.build(name, (1, 8, 8), **kwargs)
    encoder(torch.rand(4, 1, 8, 8)).square().mean().backward()
    assert all(p.grad is not None for p in encoder.parameters())


def test_small_cnn_downsamples_tiny_images_without_vanishing():
    assert SmallCNN((1, 8, 8)).forward_features(torch.rand(2, 1, 8, 8)).shape[-2:] == (2, 2)
    assert SmallCNN((3, 32, 32)).forward_features(torch.rand(2, 3, 32, 32)).shape[-2:] == (8, 8)
    assert SmallCNN((1, 4, 4), depth=5).forward_features(torch.rand(2, 1, 4, 4)).shape[-1] == 2


def test_resnet_small_stem_is_default_for_small_images_and_keeps_resolution():
    small = ResNetEncoder((3, 32, 32))
    imagenet = ResNetEncoder((3, 32, 32), small_stem=False)
    assert small.small_stem and not ResNetEncoder((3, 128, 128)).small_stem
    assert small.backbone.conv1.kernel_size == (3, 3)
    assert isinstance(small.backbone.maxpool, torch.nn.Identity)
    x = torch.rand(2, 3, 32, 32)
    assert small.forward_features(x).shape == (2, 512, 4, 4)
    assert imagenet.forward_features(x).shape == (2, 512, 1, 1)


def test_resnet_takes_the_data_channel_count():
    encoder = ENCODERS.build("resnet18", (1, 96, 96))
    assert encoder.backbone.conv1.in_channels == 1 and not encoder.small_stem
    assert encoder(torch.rand(2, 1, 96, 96)).shape == (2, 512)


def test_vit_default_patch_size_gives_a_sensible_grid():
    assert [default_patch_size(s, s) for s in (8, 16, 32, 64, 96, 224)] == [2, 2, 4, 8, 8, 16]
    assert default_patch_size(30, 30) == 2
    vit = ViTEncoder((1, 8, 8), **SMALL_VIT)
    assert vit.patch_size == 2 and vit.grid_size == (4, 4) and vit.num_patches == 16


def test_vit_tokens_and_keep_index():
    vit = ViTEncoder((3, 32, 32), **SMALL_VIT).eval()
    x = torch.rand(3, 3, 32, 32)
    tokens = vit.forward_tokens(x)
    assert tokens.shape == (3, 64, 32)
    assert vit.forward_tokens(x, keep_index=torch.tensor([0, 5, 9])).shape == (3, 3, 32)
    per_sample = torch.stack([torch.randperm(64)[:16] for _ in range(3)])
    assert vit.forward_tokens(x, keep_index=per_sample).shape == (3, 16, 32)
    # keeping every patch in order is the full forward pass
    assert torch.allclose(vit.forward_tokens(x, keep_index=torch.arange(64)), tokens, atol=1e-5)


def test_vit_keep_index_drops_patches_before_the_blocks():
    vit = ViTEncoder((1, 8, 8), **SMALL_VIT).eval()
    x = torch.rand(1, 1, 8, 8)
    changed = x.clone()
    changed[..., :2, :2] = 1 - changed[..., :2, :2]  # only patch 0 differs
    keep = torch.arange(1, 16)
    assert torch.allclose(vit.forward_tokens(x, keep), vit.forward_tokens(changed, keep))
    assert not torch.allclose(vit.forward_tokens(x), vit.forward_tokens(changed))


def test_vit_mask_token_replaces_masked_patches():
    vit = ViTEncoder((1, 8, 8), **SMALL_VIT).eval()
    x, other = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    mask = torch.ones(2, 16, dtype=torch.bool)
    token = torch.zeros(32)
    masked = vit.forward_tokens(x, mask=mask, mask_token=token)
    assert torch.allclose(masked, vit.forward_tokens(other, mask=mask, mask_token=token))


def test_vit_pool_options_patchify_roundtrip_and_learned_positions():
    vit = ViTEncoder((3, 16, 16), pool="mean", pos_embed="learned", **SMALL_VIT)
    x = torch.rand(2, 3, 16, 16)
    assert vit(x).shape == (2, 32)
    patches = vit.patchify(x)
    assert patches.shape == (2, 64, 2 * 2 * 3)
    assert torch.equal(patches[0, 1], x[0, :, 0:2, 2:4].permute(1, 2, 0).reshape(-1))
    assert torch.equal(vit.unpatchify(patches), x)
    assert "pos_embed" in dict(vit.named_parameters())


def test_sincos_position_embedding_is_distinct_per_position():
    table = sincos_pos_embed(16, (4, 4))
    assert table.shape == (16, 16) and torch.unique(table, dim=0).shape[0] == 16


@pytest.mark.parametrize(
    "name, shape, kwargs, match",
    [
        ("resnet18", (64,), {}, r"takes images of shape \[C, H, W\]"),
        ("vit_tiny", (3, 30, 30), {"patch_size": 4}, "not a multiple of patch_size"),
        ("vit_tiny", (3, 32, 32), {"dim": 100, "heads": 3}, "divisible by heads"),
        ("small_cnn", (1, 8, 8), {"widht": 8}, "Did you mean 'width'"),
        ("mlp", (4,), {"norm": "group"}, "norm"),
        ("mlp", (4,), {"dropout": -0.5}, "Option dropout of encoder 'mlp'"),
        ("vit_tiny", (1, 8, 8), {"patch_size": 0}, "Option patch_size of encoder 'vit_tiny'"),
        ("vit_tiny", (1, 8, 8), {"mlp_ratio": -1}, "Option mlp_ratio of encoder 'vit_tiny'"),
        ("vit_tiny", (1, 8, 8), {"dropout": float("nan")}, "encoder 'vit_tiny'.*dropout"),
        ("resnet18", (1, 8, 8), {"small_stem": "no"}, "Option small_stem of encoder 'resnet18'"),
        ("resnet50", (1, 8, 8), {"zero_init_residual": "yes please"}, "zero_init_residual"),
    ],
)
def test_bad_encoder_options_raise_one_clear_error(name, shape, kwargs, match):
    with pytest.raises(SelfsupError, match=match):
        ENCODERS.build(name, shape, **kwargs)


def test_mlp_flattens_any_shape():
    encoder = MLPEncoder((3, 4, 5), hidden_dims=(8,), norm="layer")
    assert encoder(torch.rand(2, 3, 4, 5)).shape == (2, 8)

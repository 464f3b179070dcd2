"""Time-series encoders: shapes, devices, NaN padding, receptive field, masking, token contract."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from selfsup.encoders.tokens import TokenEncoder, check_token_encoder
from selfsup.errors import SelfsupError
from selfsup.modalities.image.encoders.cnn import SmallCNN
from selfsup.modalities.timeseries.encoders.base import (
    DilatedCNN,
    SequenceEncoder,
    check_sequence_encoder,
)
from selfsup.modalities.timeseries.encoders.conv1d import FCN1d, ResNet1d
from selfsup.modalities.timeseries.encoders.patch_transformer import PatchTransformer
from selfsup.registry import ENCODERS, METHODS
from selfsup.views.base import IdentityViews

NAN = float("nan")
C = 2
TINY = {
    "dilated_cnn": {"hidden_dim": 8, "output_dim": 12, "depth": 2, "dropout": 0.0},
    "fcn1d": {"channels": (8, 16, 8)},
    "resnet1d": {"channels": (8, 16, 16)},
    "patch_transformer": {"patch_len": 4, "dim": 16, "depth": 1, "heads": 2},
}
NAMES = list(TINY)


def build(name: str, length: int = 32, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return ENCODERS.build(name, (length, C), **{**TINY[name], **kwargs})


def out_len(encoder, length: int) -> int:
    """Observed positions of a length-``length`` series: T, or its patches (the patch
    transformer always returns all ``num_tokens``, padding patches included)."""
    return math.ceil(length / encoder.patch_len) if hasattr(encoder, "patch_len") else length


def pad_nan(x: torch.Tensor, length: int) -> torch.Tensor:
    return torch.cat([x, torch.full((x.shape[0], length - x.shape[1], x.shape[2]), NAN)], dim=1)


@pytest.mark.parametrize("name", NAMES)
def test_encoder_gives_pooled_and_sequence_outputs_of_the_stated_sizes(name):
    encoder = build(name)
    x = torch.randn(3, 32, C)
    assert encoder(x).shape == (3, encoder.output_dim)
    assert encoder.forward_sequence(x).shape == (3, out_len(encoder, 32), encoder.sequence_dim)
    assert encoder(torch.randn(3, 4, 32, C)).shape == (3, encoder.output_dim)
    assert isinstance(encoder, SequenceEncoder) and check_sequence_encoder(encoder, "ts2vec") is encoder
    meta = ENCODERS.entry(name).info
    assert meta.modality == "timeseries" and meta.sequence is True and meta.description
    assert meta.tokens is (name == "patch_transformer")


def test_defaults_are_the_papers():
    ts2vec = DilatedCNN((100, 1))
    assert (ts2vec.output_dim, ts2vec.input_projection.out_features) == (320, 64)
    assert [b.conv1.dilation[0] for b in ts2vec.blocks] == [2**i for i in range(11)]
    assert all(b.conv1.kernel_size == (3,) for b in ts2vec.blocks)
    fcn, resnet = FCN1d((100, 1)), ResNet1d((100, 1))
    assert [(b.conv.out_channels, b.conv.kernel_size[0]) for b in fcn.blocks] == [(128, 8), (256, 5), (128, 3)]
    assert [b.convs[-1].conv.out_channels for b in resnet.blocks] == [64, 128, 128]
    assert all([c.conv.kernel_size[0] for c in b.convs] == [8, 5, 3] for b in resnet.blocks)
    patch = PatchTransformer((100, 1))
    assert (patch.patch_len, patch.output_dim, len(patch.blocks), patch.token_grid) == (8, 64, 2, (13,))


@pytest.mark.parametrize("name", NAMES)
def test_pooled_output_is_the_max_or_mean_over_observed_positions(name):
    encoder = build(name).eval()
    x = torch.randn(3, 32, C)
    lengths = [32, 21, 9]
    for b, n in enumerate(lengths):
        x[b, n:] = NAN
    seq, pooled = encoder.forward_sequence(x), encoder(x)
    for b, n in enumerate(lengths):
        kept = seq[b, : out_len(encoder, n)]
        expected = kept.max(0).values if name == "dilated_cnn" else kept.mean(0)
        assert torch.allclose(pooled[b], expected, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_devices_are_embedded_separately_and_averaged(name):
    encoder = build(name).eval()
    x = torch.randn(2, 3, 32, C)
    mask = torch.rand(2, 32) < 0.3
    per_device = torch.stack([encoder(x[:, d]) for d in range(3)], dim=1)
    assert torch.allclose(encoder(x), per_device.mean(1), atol=1e-6)
    sequences = torch.stack([encoder.forward_sequence(x[:, d], mask) for d in range(3)], dim=1)
    assert torch.allclose(encoder.forward_sequence(x, mask), sequences.mean(1), atol=1e-6)
    # a device with no observation at all is left out of the average
    x[:, 1] = NAN
    assert torch.allclose(encoder(x), per_device[:, [0, 2]].mean(1), atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_a_nan_padded_series_embeds_exactly_like_the_unpadded_one(name):
    encoder = build(name).eval()  # BatchNorm with running statistics (see FCN1d's docstring)
    # the same weights, built for the short series (the patch transformer: 5 patches, not 8)
    short = build(name, length=18).eval()
    state = encoder.state_dict()
    if "pos_embed" in state:
        state["pos_embed"] = state["pos_embed"][:, : short.num_tokens]
    short.load_state_dict(state)
    series = torch.randn(2, 18, C)  # 18 is not a multiple of patch_len
    padded = pad_nan(series, 32)
    n = out_len(encoder, 18)
    assert torch.allclose(encoder(padded), short(series), atol=1e-5)
    assert torch.allclose(encoder.forward_sequence(padded)[:, :n], short.forward_sequence(series), atol=1e-5)
    # in a batch next to a full-length series, too
    mixed = torch.cat([padded[:1], torch.randn(1, 32, C)])
    assert torch.allclose(encoder(mixed)[0], short(series[:1])[0], atol=1e-5)
    assert torch.isfinite(encoder(mixed)).all()


def ts2vec_reference(encoder: DilatedCNN, x: torch.Tensor, mask=None) -> torch.Tensor:
    """TS2Vec's encoder from the paper's equations with plain conv calls (kernel 3 only).

    Missing timestamps (any NaN) are zeroed once, after the input projection, as in TS2Vec's
    code: no holding at 0 after each layer.
    """
    observed = ~torch.isnan(x).any(-1)
    x = torch.nan_to_num(x, nan=0.0) * observed[..., None]
    keep = observed if mask is None else observed & ~mask
    z = (x @ encoder.input_projection.weight.T + encoder.input_projection.bias) * keep[..., None]
    h = z.transpose(1, 2)
    for i, block in enumerate(encoder.blocks):
        d = 2**i  # kernel 3, dilation d: pad d on each side keeps the length

        def conv(u, layer, d=d):
            return F.conv1d(F.pad(u, (d, d)), layer.weight, layer.bias, dilation=d)

        p = block.projector
        residual = h if p is None else F.conv1d(h, p.weight, p.bias)
        h = conv(F.gelu(conv(F.gelu(h), block.conv1)), block.conv2) + residual
    return h.transpose(1, 2)


def test_dilated_cnn_equals_the_ts2vec_equations_and_masks_the_projected_latent():
    encoder = build("dilated_cnn").double()
    x = torch.randn(3, 40, C, dtype=torch.float64)
    mask = torch.rand(3, 40) < 0.5
    assert torch.allclose(encoder.forward_sequence(x), ts2vec_reference(encoder, x))
    masked = encoder.forward_sequence(x, mask)
    assert torch.allclose(masked, ts2vec_reference(encoder, x, mask))
    # the latent is zeroed, not the input: the projection's bias would survive input zeroing
    assert not torch.allclose(masked, encoder.forward_sequence(x.masked_fill(mask[..., None], 0.0)))


@pytest.mark.parametrize("causal", [False, True])
def test_dilations_longer_than_the_series_equal_the_fully_padded_convolution(causal):
    # the encoder skips kernel taps that only ever read padding (dilations 4, 8 > T = 3)
    encoder = build("dilated_cnn", depth=3, causal=causal).double()
    x = torch.randn(2, 3, C, dtype=torch.float64)
    h = encoder.input_projection(x).transpose(1, 2)
    for block in encoder.blocks:  # every tap, over the whole padding
        residual = h if block.projector is None else block.projector(h)
        out = block.conv1(F.pad(F.gelu(h), block.padding))
        h = block.conv2(F.pad(F.gelu(out), block.padding)) + residual
    assert torch.allclose(encoder.forward_sequence(x), h.transpose(1, 2))


def test_padding_reaches_the_last_observed_timestamps_unless_held_at_zero():
    encoder = build("dilated_cnn").double()
    reach = encoder.receptive_field[1]
    series = torch.randn(2, 30, C, dtype=torch.float64)
    padded = pad_nan(series, 64)
    # TS2Vec's code (missing zeroed once): zeros past the end are not the conv's own padding
    # once they went through a layer, so the last `reach` observed outputs change ...
    naive, naive_padded = ts2vec_reference(encoder, series), ts2vec_reference(encoder, padded)[:, :30]
    assert torch.allclose(naive[:, : 30 - reach], naive_padded[:, : 30 - reach])
    assert not torch.allclose(naive[:, -1], naive_padded[:, -1])
    # ... while holding missing timestamps at 0 after every layer keeps them all exact
    assert torch.allclose(encoder.forward_sequence(padded)[:, :30], encoder.forward_sequence(series))


@pytest.mark.parametrize("depth, kernel_size", [(2, 3), (1, 5)])
@pytest.mark.parametrize("causal", [False, True])
def test_a_perturbation_changes_exactly_the_outputs_inside_the_receptive_field(depth, kernel_size, causal):
    encoder = build("dilated_cnn", depth=depth, kernel_size=kernel_size, causal=causal).double()
    # independently: blocks 0..depth, two convs each, a conv spans (k - 1) * 2**i timestamps,
    # split evenly between past and future, or all in the past when causal
    span = sum(2 * (kernel_size - 1) * 2**i for i in range(depth + 1))
    past, future = (span, 0) if causal else (span // 2, span // 2)
    assert encoder.receptive_field == (past, future)
    length, t = 96, 40
    x = torch.randn(1, length, C, dtype=torch.float64)
    x2 = x.clone()
    x2[0, t] += 1.0
    changed = (encoder.forward_sequence(x2) - encoder.forward_sequence(x)).abs().amax(-1)[0] > 0
    expected = torch.zeros(length, dtype=torch.bool)
    expected[max(t - future, 0) : t + past + 1] = True  # output s sees inputs s - past .. s + future
    assert torch.equal(changed, expected)


def test_paper_receptive_field():
    assert DilatedCNN((10, 1)).receptive_field == (4094, 4094)  # 2 * (2**11 - 1) each side
    assert DilatedCNN((10, 1), causal=True).receptive_field == (8188, 0)


@pytest.mark.parametrize("name", ["fcn1d", "resnet1d", "patch_transformer"])
def test_mask_zeroes_the_input_timestamps(name):
    encoder = build(name).eval()
    x = torch.randn(3, 32, C)
    mask = torch.rand(3, 32) < 0.3
    masked = encoder.forward_sequence(x, mask)
    assert torch.allclose(masked, encoder.forward_sequence(x.masked_fill(mask[..., None], 0.0)), atol=1e-6)
    assert not torch.allclose(masked, encoder.forward_sequence(x), atol=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_gets_a_gradient(name):
    # an unused parameter would make DistributedDataParallel fail
    encoder = build(name).train()
    x = torch.randn(4, 32, C)
    x[0, 20:] = NAN
    encoder(x).square().mean().backward()
    grads = [p.grad for p in encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(g.abs().sum() > 0 for g in grads)


def test_patch_transformer_states_the_token_contract():
    encoder = build("patch_transformer", length=30)
    assert isinstance(encoder, TokenEncoder) and check_token_encoder(encoder, "mae") is encoder
    assert encoder.token_grid == (8,) and encoder.num_tokens == 8  # ceil(30 / 4)
    assert encoder.token_dim == 16 and encoder.token_target_dim == 4 * C
    x = torch.randn(2, 30, C)
    x[1, 25:] = NAN
    assert encoder.forward_tokens(x).shape == (2, 8, 16)
    assert torch.equal(encoder.forward_tokens(x), encoder.forward_sequence(x))
    assert encoder.forward_tokens(x, keep_index=torch.tensor([[0, 3], [5, 1]])).shape == (2, 2, 16)
    assert encoder.forward_tokens(x, keep_index=torch.tensor([2, 4, 6])).shape == (2, 3, 16)
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[:, 2] = True
    assert not torch.allclose(
        encoder.forward_tokens(x, mask=mask, mask_token=torch.zeros(16)), encoder.forward_tokens(x)
    )


def test_patch_token_targets_are_each_patch_values_in_time_order():
    encoder = build("patch_transformer", length=30)
    x = torch.randn(2, 27, C)  # shorter than the built length: padded with NaN
    x[0, 20:] = NAN
    targets = encoder.token_targets(x)
    assert targets.shape == (2, 8, 4 * C)
    for b in range(2):
        for i in range(8):
            patch = torch.zeros(4, C)
            values = x[b, 4 * i : 4 * i + 4]
            patch[: len(values)] = torch.nan_to_num(values, nan=0.0)
            assert torch.equal(targets[b, i], patch.reshape(-1))


@pytest.mark.parametrize("method, options", [
    ("mae", {"decoder_dim": 16, "decoder_depth": 1, "decoder_heads": 2}),
    ("jepa", {"predictor_dim": 16, "predictor_depth": 1, "predictor_heads": 2}),
])
def test_mae_and_jepa_run_on_time_series_unchanged(method, options):
    encoder = build("patch_transformer", length=64)  # 16 patches
    model = METHODS.build(method, encoder, IdentityViews(), **options)
    x = torch.randn(4, 64, C)
    x[1, 50:] = NAN
    out = model({"x": x, "index": torch.arange(4)})
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(p.grad is not None for p in encoder.parameters())
    model.on_step_end(0.5)
    assert model.embed({"x": x}).shape == (4, 16)


def test_check_sequence_encoder_names_the_method_the_encoder_and_the_choices():
    with pytest.raises(SelfsupError, match="method 'ts2vec' needs a sequence encoder such as "
                       r"(\w+, )*dilated_cnn, fcn1d, (\w+, )*resnet1d(, \w+)*; small_cnn has no "
                       "sequence_dim or forward_sequence"):
        check_sequence_encoder(SmallCNN((1, 8, 8)), "ts2vec")


@pytest.mark.parametrize("name, shape, kwargs, message", [
    ("dilated_cnn", (3, 8, 8, 8), {}, "takes time series of shape"),
    ("dilated_cnn", (16, C), {"depth": 0}, "depth"),
    ("dilated_cnn", (16, C), {"hiden_dim": 4}, "Did you mean 'hidden_dim'"),
    ("dilated_cnn", (16, C), {"dropout": 1.0}, "dropout"),
    ("dilated_cnn", (16, C), {"causal": "no"}, "encoder 'dilated_cnn'.*causal must be true or false"),
    ("causal_cnn", (16, C), {"depth": 0}, "Option depth of encoder 'causal_cnn'"),
    ("fcn1d", (16, C), {"channels": (8, 8), "kernel_sizes": (3,)}, "same length"),
    ("resnet1d", (16, C), {"channels": (8, -1)}, r"channels\[1\]"),
    ("patch_transformer", (16, C), {"dim": 10, "heads": 4}, "divisible"),
    ("patch_transformer", (16, C), {"pos_embed": "rope"}, "pos_embed"),
])
def test_bad_options_raise_one_clear_error(name, shape, kwargs, message):
    with pytest.raises(SelfsupError, match=message):
        ENCODERS.build(name, shape, **kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_bad_inputs_raise_one_clear_error(name):
    encoder = build(name)
    with pytest.raises(SelfsupError, match=f"built for series with {C} channels"):
        encoder(torch.randn(2, 32, C + 1))
    with pytest.raises(SelfsupError, match=r"\[B, T, C\]"):
        encoder(torch.randn(2, C))
    if name == "patch_transformer":
        with pytest.raises(SelfsupError, match="up to 32 timestamps"):
            encoder(torch.randn(2, 33, C))

"""tstcc_cnn (TS-TCC's encoder): against a reference network built from torch modules, latent
lengths, the sequence contract (missing values, masking, devices), and TS-TCC running on it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.encoders.base import SequenceEncoder, check_sequence_encoder
from selfsup.modalities.timeseries.encoders.tstcc_cnn import TSTCCEncoder
from selfsup.registry import ENCODERS, METHODS, VIEWS

NAN = float("nan")
C = 2
TINY = {"channels": (4, 6, 8), "kernel_sizes": (8, 8, 8)}


def build(length: int = 40, **kwargs) -> TSTCCEncoder:
    torch.manual_seed(0)
    return ENCODERS.build("tstcc_cnn", (length, C), **{**TINY, **kwargs})


def randomise_batch_norm(encoder: nn.Module) -> None:
    """Non-trivial running statistics and affine parameters, so eval mode tests BN too."""
    for module in encoder.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)


def reference(encoder: TSTCCEncoder) -> nn.Sequential:
    """The paper's blocks written with torch modules, sharing ``encoder``'s weights:
    [pad (k-1)//2 left, k//2 right] conv (no bias) - BN - ReLU - MaxPool1d(2, 2, padding 1),
    dropout after the first block; channel-first in and out."""
    layers: list[nn.Module] = []
    for i, block in enumerate(encoder.blocks):
        k = block.conv.kernel_size[0]
        layers += [nn.ConstantPad1d(((k - 1) // 2, k // 2), 0.0), block.conv, block.norm,
                   nn.ReLU(), nn.MaxPool1d(kernel_size=2, stride=2, padding=1)]
        if i == 0:
            layers.append(nn.Dropout(encoder.dropout.p))
    return nn.Sequential(*layers)


def pooled_length(length: int) -> int:
    return (length + 2 - 2) // 2 + 1  # MaxPool1d(2, 2, padding=1): floor((L + 2p - k) / s) + 1


def test_registered_with_the_sequence_contract_and_the_papers_defaults():
    meta = ENCODERS.entry("tstcc_cnn").info
    assert meta.modality == "timeseries" and meta.sequence is True and meta.description
    encoder = TSTCCEncoder((178, 1))
    assert [b.conv.out_channels for b in encoder.blocks] == [32, 64, 128]
    assert all(b.conv.kernel_size == (8,) and b.conv.bias is None for b in encoder.blocks)
    assert encoder.blocks[0].conv.stride == (1,) and encoder.dropout.p == 0.35
    assert encoder.output_dim == encoder.sequence_dim == 128
    assert isinstance(encoder, SequenceEncoder)
    assert check_sequence_encoder(encoder, "tstcc") is encoder
    # TS-TCC uses it by default
    assert METHODS.info("tstcc").default_encoder == "tstcc_cnn"


@pytest.mark.parametrize("length, stride", [(40, 1), (33, 1), (41, 3), (16, 2)])
def test_sequence_equals_the_reference_network_and_pools_by_the_mean(length, stride):
    encoder = build(length, stride=stride)
    randomise_batch_norm(encoder)
    encoder.eval()
    x = torch.randn(3, length, C)
    expected = reference(encoder).eval()(x.transpose(1, 2)).transpose(1, 2)
    seq = encoder.forward_sequence(x)
    torch.testing.assert_close(seq, expected)
    torch.testing.assert_close(encoder(x), expected.mean(dim=1))


@pytest.mark.parametrize("length, latents", [(178, 24), (150, 20), (128, 17), (8, 2)])
def test_each_block_halves_the_length(length, latents):
    # 178 -> 24 as the authors' Epilepsy configuration (features_len = 24)
    expected = pooled_length(pooled_length(pooled_length(length)))
    assert expected == latents
    encoder = TSTCCEncoder((length, 1)).eval()
    assert encoder.forward_sequence(torch.randn(2, length, 1)).shape == (2, latents, 128)


def test_strided_first_convolution_is_the_stride_one_convolution_read_every_stride_steps():
    strided = build(30, stride=3)
    plain = build(30, stride=1)
    plain.load_state_dict(strided.state_dict())
    x = torch.randn(2, C, 30)
    pad = strided.blocks[0].padding
    out_strided = strided.blocks[0].conv(torch.nn.functional.pad(x, pad))
    out_plain = plain.blocks[0].conv(torch.nn.functional.pad(x, pad))
    assert out_strided.shape[-1] == 10
    torch.testing.assert_close(out_strided, out_plain[..., ::3])


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("short", [18, 21, 25])
def test_a_nan_padded_series_embeds_exactly_like_the_unpadded_one(short, stride):
    encoder = build(40, stride=stride)
    randomise_batch_norm(encoder)
    encoder.eval()
    series = torch.randn(2, short, C)
    padded = torch.cat([series, torch.full((2, 40 - short, C), NAN)], dim=1)
    seq_short = encoder.forward_sequence(series)
    seq_padded = encoder.forward_sequence(padded)
    n = seq_short.shape[1]
    torch.testing.assert_close(seq_padded[:, :n], seq_short)
    assert (seq_padded[:, n:] == 0).all()  # positions without any observation are held at 0
    torch.testing.assert_close(encoder(padded), encoder(series))
    # next to a full-length series in the same batch, too
    mixed = torch.cat([padded[:1], torch.randn(1, 40, C)])
    torch.testing.assert_close(encoder(mixed)[0], encoder(series[:1])[0])
    assert torch.isfinite(encoder(mixed)).all()


def test_mask_zeroes_the_input_timestamps():
    encoder = build().eval()
    x = torch.randn(2, 40, C)
    mask = torch.zeros(2, 40, dtype=torch.bool)
    mask[0, 5:12] = True
    mask[1, 30:] = True
    zeroed = x.masked_fill(mask[..., None], 0.0)
    torch.testing.assert_close(encoder.forward_sequence(x, mask), encoder.forward_sequence(zeroed))
    assert not torch.allclose(encoder.forward_sequence(x, mask), encoder.forward_sequence(x))


def test_devices_are_embedded_separately_and_averaged():
    encoder = build().eval()
    x = torch.randn(2, 3, 40, C)
    per_device = torch.stack([encoder(x[:, d]) for d in range(3)], dim=1)
    torch.testing.assert_close(encoder(x), per_device.mean(dim=1))


def test_dropout_acts_in_training_only():
    encoder = build(dropout=0.5)
    x = torch.randn(4, 40, C)
    encoder.eval()
    torch.testing.assert_close(encoder.forward_sequence(x), encoder.forward_sequence(x))
    encoder.train()
    torch.manual_seed(1)
    first = encoder.forward_sequence(x)
    torch.manual_seed(2)
    assert not torch.allclose(first, encoder.forward_sequence(x))


@pytest.mark.parametrize("kwargs, message", [
    ({"channels": (4, 6), "kernel_sizes": (8,)}, "same length"),
    ({"stride": 0}, "stride"),
    ({"dropout": 1.0}, "dropout"),
    ({"channels": (4, -1, 8)}, r"channels\[1\]"),
])
def test_bad_options_raise_one_clear_error(kwargs, message):
    with pytest.raises(SelfsupError, match=message):
        ENCODERS.build("tstcc_cnn", (40, C), **{**TINY, **kwargs})


def test_bad_inputs_raise_one_clear_error():
    encoder = build()
    with pytest.raises(SelfsupError, match="channels"):
        encoder(torch.randn(2, 40, C + 1))


def test_tstcc_trains_on_it_with_its_default_views():
    torch.manual_seed(0)
    encoder = build(64)
    views = VIEWS.build("tstcc", (64, C))
    method = METHODS.build("tstcc", encoder, views, prediction_steps=4, context_dim=12,
                           context_depth=1, context_heads=2, context_mlp_dim=16)
    out = method({"x": torch.randn(6, 64, C), "index": torch.arange(6)})  # 64 -> 9 latents
    assert torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(p.grad is not None for p in method.parameters())

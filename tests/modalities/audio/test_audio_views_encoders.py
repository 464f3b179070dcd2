"""Audio views (batched ops on NaN-padded clips) and encoders (log-mel CNN, wav2vec-style)."""

from __future__ import annotations

import math

import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modalities.audio.data.source import AudioSpec, ClipDataset
from selfsup.modalities.audio.encoders.logmel_cnn import LogMelCNN
from selfsup.modalities.audio.encoders.patch_transformer import LogMelPatchTransformer
from selfsup.modalities.audio.encoders.wav2vec import Wav2VecEncoder
from selfsup.modalities.audio.frontend import lengths
from selfsup.modalities.audio.views import ops
from selfsup.modalities.audio.views.augment import AudioViews, BYOLAViews

SPEC = AudioSpec(16000, 8000)


def _waves(b: int = 4, t: int = 8000) -> torch.Tensor:
    torch.manual_seed(0)
    x = 0.3 * torch.randn(b, t)
    x[1, t // 2:] = float("nan")
    x[3, t // 5:] = float("nan")
    return x


def test_random_crop_takes_a_contiguous_segment_of_the_drawn_fraction_of_each_clip():
    x = torch.arange(1000.0).repeat(3, 1)
    x[1, 500:] = float("nan")
    out = ops.random_crop(x, scale=(0.5, 0.5))
    assert lengths(out).tolist() == [500, 250, 500]
    for row in out:
        kept = row[~torch.isnan(row)]
        assert torch.equal(kept.diff(), torch.ones(len(kept) - 1))  # contiguous


def test_gain_scales_each_clip_within_the_decibel_range():
    x = _waves()
    ratio = ops.gain(x, db=6.0)[:, 0] / x[:, 0]
    assert (20 * torch.log10(ratio.abs())).abs().max() <= 6.0 + 1e-4
    assert torch.equal(torch.isnan(ops.gain(x)), torch.isnan(x))


def test_added_noise_has_the_sampled_snr():
    x = torch.sin(torch.arange(200_000.0) / 7).repeat(2, 1)
    noisy = ops.add_noise(x, snr_db=(20.0, 20.0))
    snr = 10 * torch.log10(x.square().mean(dim=1) / (noisy - x).square().mean(dim=1))
    assert torch.allclose(snr, torch.full((2,), 20.0), atol=0.1)


def test_time_shift_rolls_within_the_clip_and_keeps_its_length():
    x = torch.arange(100.0).repeat(2, 1)
    x[1, 60:] = float("nan")
    out = ops.time_shift(x, fraction=0.3)
    assert lengths(out).tolist() == [100, 60]
    assert torch.equal(out[1, :60].sort().values, torch.arange(60.0))


def test_speed_one_is_the_identity_and_two_halves_the_length():
    x = _waves()
    assert torch.allclose(ops.speed(x, (1.0, 1.0)), x, equal_nan=True)
    assert lengths(ops.speed(x, (2.0, 2.0))).tolist() == (lengths(x) // 2).tolist()


def test_spec_masks_set_whole_bands_and_spans_to_the_clip_mean():
    x = torch.randn(2, 40, 100)
    out = ops.spec_masks(x, time_masks=1, time_width=0.5, freq_masks=0)
    changed = (out != x).any(dim=1)  # [B, T]
    for b in range(2):
        frames = torch.nonzero(changed[b]).flatten()
        if len(frames):
            assert frames.max() - frames.min() + 1 == len(frames) <= 50
            assert torch.allclose(out[b, :, frames], x[b].mean().expand(40, len(frames)))


def test_byol_a_ops_are_the_identity_at_their_neutral_settings():
    x = torch.randn(3, 16, 30)
    x[1, :, 20:] = float("nan")
    assert torch.allclose(ops.log_mixup_exp(x, ratio=0.0), x, equal_nan=True, atol=1e-5)
    assert torch.allclose(ops.random_resize_crop(x, (1.0, 1.0), (1.0, 1.0), (1.0, 1.0)), x, equal_nan=True, atol=1e-5)
    assert torch.allclose(ops.linear_fader(x, gain=0.0), x, equal_nan=True)


def test_random_resize_crop_leaves_an_axis_whose_scale_and_canvas_are_one():
    torch.manual_seed(0)
    varies_in_time = torch.randn(3, 1, 30).expand(3, 16, 30).clone()
    varies_in_time[1, :, 20:] = float("nan")
    # a frequency-only crop (BYOL-A's default here) moves nothing along time
    out = ops.random_resize_crop(varies_in_time, (1.0, 1.0), (0.6, 1.5), (1.0, 1.0))
    assert torch.allclose(out, varies_in_time, equal_nan=True, atol=1e-5)
    varies_in_freq = torch.randn(3, 16, 1).expand(3, 16, 30).clone()
    varies_in_freq[1, :, 20:] = float("nan")
    out = ops.random_resize_crop(varies_in_freq, (1.0, 1.0), (1.0, 1.0), (0.6, 1.0))
    assert torch.allclose(out[~torch.isnan(out)], varies_in_freq[~torch.isnan(out)], atol=1e-5)
    assert torch.equal(lengths(out), lengths(varies_in_freq))
    # and the time crop does move along time
    assert not torch.allclose(ops.random_resize_crop(varies_in_time, (1.0, 1.5), (1.0, 1.0), (0.6, 1.5)),
                              varies_in_time, equal_nan=True, atol=1e-3)


def test_byol_a_views_keep_the_word_whole_in_time_by_default():
    """The two views of a one-word clip must both hold all of it: a clip that varies in time
    only comes out of the default views as it went in, up to the fader's ramp and mixup."""
    torch.manual_seed(0)
    views = BYOLAViews(AudioSpec(16000, 40, features=16), mixup_ratio=0.0, fader_gain=0.0)
    x = torch.randn(4, 1, 40).expand(4, 16, 40).clone()
    for view in views({"x": x}, 2):
        expected = (x - x.mean(dim=(1, 2), keepdim=True)) / x.std(dim=(1, 2), unbiased=False, keepdim=True)
        assert torch.allclose(view["x"], expected, atol=1e-4)


def test_log_mixup_exp_is_the_log_of_mixed_energies():
    torch.manual_seed(1)
    x = torch.randn(2, 4, 5)
    out = ops.log_mixup_exp(x, ratio=0.4)
    other = x.flip(0)  # with two clips the partner is the other one, or itself
    for b in range(2):
        lam_self = torch.log((torch.exp(out[b]) - torch.exp(other[b])) / (torch.exp(x[b]) - torch.exp(other[b])))
        assert torch.allclose(out[b], x[b], atol=1e-5) or torch.allclose(lam_self, lam_self.flatten()[0], atol=1e-3)


def test_audio_views_on_waveforms_give_log_mels_or_waveforms():
    x = _waves()
    mel = AudioViews(SPEC)({"x": x}, 2)
    assert all(v["x"].shape[:2] == (4, 64) for v in mel)
    wave = AudioViews(SPEC, time_masks=0, freq_masks=0)({"x": x}, 1)[0]["x"]
    assert wave.dim() == 2 and (lengths(wave) <= (lengths(x) * 1.12)).all()


def test_a_clip_shorter_than_the_crop_is_named_before_training():
    x = _waves()
    data = ClipDataset(x, None, ["a.wav", "b.wav", "c.wav", "d.wav"])
    with pytest.raises(SelfsupError, match="d.wav"):
        AudioViews(SPEC, crop_seconds=0.2).check_data(data, lambda i: f"sample {i}")
    AudioViews(SPEC, crop_seconds=0.05).check_data(data, lambda i: f"sample {i}")


def test_byol_a_views_keep_each_clips_frames():
    x = _waves()
    views = BYOLAViews(SPEC)({"x": x}, 2)
    expected = (1 + lengths(x) // 160).tolist()
    assert all(lengths(v["x"]).tolist() == expected for v in views)


@pytest.mark.parametrize("make", [lambda s: LogMelCNN(s, channels=8, hidden_dim=16),
                                  lambda s: Wav2VecEncoder(s, conv_channels=8, dim=16, depth=1, heads=2),
                                  lambda s: LogMelPatchTransformer(s, dim=16, depth=1, heads=2)])
def test_audio_encoders_embed_a_padded_clip_as_the_clip_alone(make):
    encoder = make(SPEC).eval()
    x = _waves()
    with torch.no_grad():
        batch = encoder(x)
        alone = encoder(x[1:2, :4000])
    assert batch.shape == (4, encoder.output_dim)
    assert torch.allclose(batch[1], alone[0], atol=1e-5)
    if hasattr(encoder, "forward_sequence"):
        seq = encoder.forward_sequence(x)
        assert seq.shape[0] == 4 and seq.shape[2] == encoder.sequence_dim


def test_the_patch_transformer_gives_the_token_contract_over_bins_and_frames():
    encoder = LogMelPatchTransformer(SPEC, patch_bins=16, patch_frames=10, dim=16, depth=1, heads=2)
    assert encoder.token_grid == (4, 6)  # 64 bins / 16, 51 frames -> 6 patches of 10
    x = _waves()
    targets = encoder.token_targets(x)
    assert targets.shape == (4, 24, 160)
    # clip 3 has 1 + 1600 // 160 = 11 frames: time patches 2.. of every bin band hold only padding
    assert (targets[3].view(4, 6, 160)[:, 2:] == 0).all()
    keep = torch.tensor([0, 5, 7])
    assert encoder.forward_tokens(x, keep_index=keep).shape == (4, 3, 16)


def test_encoders_take_mfcc_features_and_refuse_the_wrong_input():
    spec = AudioSpec(8000, 50, 13, "mfcc")
    for encoder in (LogMelCNN(spec, channels=8, hidden_dim=16), Wav2VecEncoder(spec, conv_channels=8, dim=16,
                                                                                 depth=1, heads=2)):
        assert encoder(torch.randn(2, 13, 50)).shape == (2, encoder.output_dim)
        with pytest.raises(SelfsupError):
            encoder(torch.randn(2, 20, 50))
    with pytest.raises(SelfsupError, match="waveforms"):
        Wav2VecEncoder(SPEC, conv_channels=8, dim=16, depth=1, heads=2)(torch.randn(2, 64, 30))


def test_wav2vec_frames_follow_the_conv_arithmetic():
    encoder = Wav2VecEncoder(SPEC, conv_channels=8, dim=16, depth=1, heads=2)
    assert encoder.stride == 320
    n = torch.tensor([16000, 400, 8000])
    expected = [math.floor((16000 - 400) / 320) + 1, 1, math.floor((8000 - 400) / 320) + 1]
    assert encoder.frames(n).tolist() == expected

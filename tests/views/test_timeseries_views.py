"""Time-series views: each op against its definition, NaN padding, TS2Vec crops, view makers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.views.augment import TimeSeriesViews, TSTCCViews
from selfsup.modalities.timeseries.views.ops import (
    frequency_mask,
    jitter,
    magnitude_warp,
    natural_cubic_spline,
    observed_lengths,
    permutation,
    random_crop,
    scaling,
    time_warp,
    timestamp_mask,
    window_slice,
)
from selfsup.modalities.timeseries.views.ts2vec_crops import TS2VecCrops
from selfsup.registry import VIEWS

NAN = float("nan")


def ramp(batch: int, steps: int, channels: int = 1) -> torch.Tensor:
    """x[b, t, c] = t (+ 1000 c): every value names its timestamp."""
    t = torch.arange(steps, dtype=torch.float32)[None, :, None]
    c = 1000.0 * torch.arange(channels, dtype=torch.float32)[None, None, :]
    return (t + c).expand(batch, steps, channels).clone()


def padded(x: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    x = x.clone()
    for row, length in enumerate(lengths):
        x[row, length:] = NAN
    return x


def runs(sequence: list[float]) -> list[list[float]]:
    """Split a sequence into maximal runs that increase by exactly 1."""
    pieces = [[sequence[0]]]
    for value in sequence[1:]:
        if value == pieces[-1][-1] + 1:
            pieces[-1].append(value)
        else:
            pieces.append([value])
    return pieces


# --- plain functions against their definitions --------------------------------------------------


def test_jitter_adds_zero_mean_noise_of_the_requested_std():
    torch.manual_seed(0)
    x = torch.full((64, 200, 3), 5.0)
    noise = jitter(x, 0.5) - x
    assert abs(float(noise.mean())) < 0.01
    assert float(noise.std()) == pytest.approx(0.5, rel=0.02)
    per_channel = jitter(x, torch.tensor([0.0, 1.0, 2.0])) - x
    assert per_channel.std(dim=(0, 1)).tolist() == pytest.approx([0.0, 1.0, 2.0], rel=0.03)


def test_scaling_factor_is_constant_over_time_per_sample_and_channel():
    torch.manual_seed(0)
    x = torch.rand(500, 30, 2) + 1.0
    ratio = scaling(x, 0.1) / x  # [B, T, C]
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio))
    factors = ratio[:, 0]  # [B, C]: differ between samples and channels
    assert float(factors.mean()) == pytest.approx(1.0, abs=0.01)
    assert float(factors.std()) == pytest.approx(0.1, rel=0.1)
    assert not torch.allclose(factors[:, 0], factors[:, 1])


def test_natural_cubic_spline_matches_scipy():
    from scipy.interpolate import CubicSpline

    torch.manual_seed(0)
    values = torch.randn(3, 6, 2, dtype=torch.float64)
    u = torch.rand(3, 50, dtype=torch.float64)
    ours = natural_cubic_spline(values, u)
    knots = np.linspace(0, 1, 6)
    for b in range(3):
        for c in range(2):
            ref = CubicSpline(knots, values[b, :, c].numpy(), bc_type="natural")(u[b].numpy())
            np.testing.assert_allclose(ours[b, :, c].numpy(), ref, atol=1e-10)


def test_magnitude_warp_multiplies_by_a_smooth_curve_around_one():
    torch.manual_seed(0)
    x = torch.rand(200, 100, 2) + 1.0
    torch.testing.assert_close(magnitude_warp(x, 0.0), x)
    curve = magnitude_warp(x, 0.2, knots=4) / x
    assert float(curve.mean()) == pytest.approx(1.0, abs=0.02)
    # A cubic through 6 knots over 100 steps: tiny second differences, unlike the values' spread.
    second = curve[:, 2:] - 2 * curve[:, 1:-1] + curve[:, :-2]
    assert float(second.abs().max()) < 0.02 < float(curve.std())
    assert not torch.allclose(curve[:, :, 0], curve[:, :, 1])  # one curve per channel


def test_time_warp_is_identity_at_zero_and_a_monotone_resampling_otherwise():
    torch.manual_seed(0)
    x = ramp(64, 50, 2)
    assert torch.equal(time_warp(x, 0.0), x)
    torch.testing.assert_close(time_warp(x, 1e-7), x, atol=1e-3, rtol=0)
    warped = time_warp(x, 0.3)  # on a ramp the output is the warped position p(t)
    p = warped[..., 0]
    assert warped.shape == x.shape
    assert bool((p[:, 1:] >= p[:, :-1]).all())  # monotone
    torch.testing.assert_close(p[:, 0], torch.zeros(64))
    torch.testing.assert_close(p[:, -1], torch.full((64,), 49.0))  # ends stay fixed
    torch.testing.assert_close(warped[..., 1] - 1000.0, p, atol=1e-3, rtol=0)  # shared warp
    assert float((p - x[..., 0]).abs().max()) > 1.0  # it did move time


def test_window_slice_is_identity_at_ratio_one_and_a_stretched_window_otherwise():
    torch.manual_seed(0)
    x = ramp(32, 40)
    assert torch.equal(window_slice(x, 1.0), x)
    out = window_slice(x, 0.9)[..., 0]  # on a ramp: start + t * (w - 1) / (L - 1)
    width = round(0.9 * 40)
    slope = (width - 1) / 39
    start = out[:, 0]
    expected = start[:, None] + torch.arange(40.0)[None] * slope
    torch.testing.assert_close(out, expected)
    assert bool((start >= 0).all()) and bool((start <= 40 - width).all())
    assert start.unique().numel() > 1  # per-sample start


def test_random_crop_takes_a_contiguous_window_per_sample():
    torch.manual_seed(0)
    x = ramp(32, 30)
    out = random_crop(x, 10)[..., 0]
    assert out.shape == (32, 10)
    torch.testing.assert_close(out, out[:, :1] + torch.arange(10.0)[None])
    assert out[:, 0].unique().numel() > 1 and float(out[:, -1].max()) <= 29


def test_permutation_reorders_contiguous_segments_and_keeps_every_timestamp():
    torch.manual_seed(0)
    x = ramp(300, 40, 2)
    out = permutation(x, max_segments=4)
    torch.testing.assert_close(out.sort(dim=1).values, x)  # same multiset per sample/channel
    torch.testing.assert_close(out[..., 1] - 1000.0, out[..., 0])  # channels move together
    counts = [len(runs(row.tolist())) for row in out[..., 0]]
    assert max(counts) == 4 and min(counts) == 1  # 1..max_segments segments, inclusive
    # Each run is a whole segment of the input, starting where another one ended.
    for row in out[:20, :, 0]:
        pieces = runs(row.tolist())
        assert min(p[0] for p in pieces) == 0.0
        assert max(p[-1] for p in pieces) == 39.0


def test_timestamp_mask_zeroes_whole_timestamps_at_the_ratio():
    torch.manual_seed(0)
    x = torch.rand(64, 100, 3) + 1.0
    out = timestamp_mask(x, 0.3)
    zero = out == 0
    assert torch.equal(zero.all(-1), zero.any(-1))  # all channels of a timestamp together
    assert float(zero.all(-1).float().mean()) == pytest.approx(0.3, abs=0.02)
    assert torch.equal(out[~zero], x[~zero])


def test_frequency_mask_zeroes_exactly_one_band_of_the_spectrum():
    torch.manual_seed(0)
    x = torch.randn(16, 64, 2, dtype=torch.float64)
    ratio = 0.2
    out = frequency_mask(x, ratio)
    before, after = torch.fft.rfft(x, dim=1), torch.fft.rfft(out, dim=1)
    bins = 64 // 2 + 1
    width = round(ratio * bins)
    starts = []
    for b in range(16):
        zeroed = (after[b].abs() < 1e-9).all(dim=-1).nonzero().flatten().tolist()
        assert zeroed == list(range(zeroed[0], zeroed[0] + width))  # one contiguous band
        keep = torch.ones(bins, dtype=torch.bool)
        keep[zeroed] = False
        torch.testing.assert_close(after[b][keep], before[b][keep])
        starts.append(zeroed[0])
    assert len(set(starts)) > 1  # per-sample band
    assert torch.equal(frequency_mask(x, 0.0), x)


# --- NaN padding -----------------------------------------------------------------------------

OPS = {
    "jitter": lambda x: jitter(x, 0.1),
    "scaling": lambda x: scaling(x, 0.5),
    "magnitude_warp": lambda x: magnitude_warp(x, 0.5),
    "time_warp": lambda x: time_warp(x, 0.5),
    "window_slice": lambda x: window_slice(x, 0.5),
    "permutation": lambda x: permutation(x, 6),
    "timestamp_mask": lambda x: timestamp_mask(x, 0.5),
    "frequency_mask": lambda x: frequency_mask(x, 0.3),
    "ts_augment_all": lambda x: TimeSeriesViews(
        x.shape[1:], magnitude_warp_p=1.0, time_warp_p=1.0, window_slice_p=1.0, permutation_p=1.0,
        timestamp_mask_p=1.0, frequency_mask_p=1.0).augment(x, 0),
    "tstcc_weak": lambda x: TSTCCViews(x.shape[1:]).augment(x, 0),
    "tstcc_strong": lambda x: TSTCCViews(x.shape[1:]).augment(x, 1),
}
LENGTHS = [25, 3, 1, 12, 24, 2, 25, 7]


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("devices", [None, 2])
def test_padding_stays_at_the_end_and_observed_values_never_become_nan(name, devices):
    torch.manual_seed(0)
    x = padded(torch.randn(8, 25, 3), LENGTHS)
    if devices:  # [B, D, T, C]; device 1 is shorter than device 0
        x = torch.stack([x, padded(x, [max(1, n - 1) for n in LENGTHS])], dim=1)
    out = OPS[name](x)
    assert out.shape == x.shape
    assert torch.equal(torch.isnan(out), torch.isnan(x))
    assert torch.equal(observed_lengths(out), observed_lengths(x))


def test_observed_lengths_reads_the_trailing_padding():
    x = padded(torch.randn(4, 10, 2), [10, 4, 0, 1])
    x[0, 9, 0] = NAN  # one channel missing at the last step is still an observed timestamp
    assert observed_lengths(x).tolist() == [10, 4, 0, 1]
    assert observed_lengths(torch.stack([x, x], 1)).shape == (4, 2)


def test_time_moving_ops_only_use_the_observed_part():
    torch.manual_seed(0)
    x = padded(ramp(6, 30), [30, 5, 17, 2, 9, 30])
    lengths = torch.tensor([30, 5, 17, 2, 9, 30])
    for op in (OPS["time_warp"], OPS["window_slice"], OPS["permutation"]):
        out = op(x)[..., 0]
        observed = torch.arange(30)[None] < lengths[:, None]
        last = (lengths[:, None] - 1).expand(-1, 30)[observed]
        assert bool((out[observed] <= last).all()) and bool((out[observed] >= 0).all())
    crop = random_crop(x[[0, 2, 5]], 17)[..., 0]
    assert not torch.isnan(crop).any() and bool((crop[1] <= 16).all())


# --- TS2Vec crops ------------------------------------------------------------------------------


def test_ts2vec_crops_share_the_overlap_and_follow_the_paper_geometry():
    crops = TS2VecCrops((40, 2))
    x = torch.randn(16, 40, 2)
    seen = set()
    for seed in range(30):
        torch.manual_seed(seed)
        v0, v1 = crops({"x": x, "index": torch.arange(16)}, 2)
        overlap, start = v0["overlap"], v0["overlap_start"]
        assert v1["overlap"] == overlap and v1["overlap_start"] == 0 and overlap >= 2
        torch.testing.assert_close(v0["x"][:, start:start + overlap], v1["x"][:, :overlap])
        # Locate every view in x: both are windows of x at per-sample positions.
        pos0 = [_find(x[i], v0["x"][i]) for i in range(16)]
        pos1 = [_find(x[i], v1["x"][i]) for i in range(16)]
        # view 0 starts at a1 + offset_i, view 1 at a2 + offset_i
        assert all(p1 - p0 == start for p0, p1 in zip(pos0, pos1, strict=True))
        assert v0["x"].shape[1] - start == overlap  # view 0 ends with the overlap (b1)
        seen.add((v0["x"].shape[1], v1["x"].shape[1]))
        if seed == 0:
            assert len(set(pos0)) > 1  # per-sample offsets
    assert len(seen) > 10  # crop lengths are drawn per batch


def _find(series: torch.Tensor, window: torch.Tensor) -> int:
    width = window.shape[0]
    starts = range(series.shape[0] - width + 1)
    hits = [s for s in starts if torch.equal(series[s:s + width], window)]
    assert len(hits) == 1
    return hits[0]


def test_ts2vec_crops_stay_inside_each_observed_series():
    x = padded(ramp(6, 30, 2), [30, 8, 30, 12, 29, 30])
    crops = TS2VecCrops((30, 2))
    for seed in range(20):
        torch.manual_seed(seed)
        v0, v1 = crops({"x": x}, 2)
        assert not torch.isnan(v0["x"]).any() and not torch.isnan(v1["x"]).any()
        assert v0["x"].shape[1] <= 8 and v1["x"].shape[1] <= 8


def test_ts2vec_crops_on_devices_keep_them_synchronised():
    torch.manual_seed(0)
    x = ramp(5, 20, 1)
    x = torch.stack([x, x + 100.0, x + 200.0], dim=1)  # [B, D=3, T, C]
    v0, v1 = TS2VecCrops((3, 20, 1))({"x": x}, 2)
    assert v0["x"].dim() == 4 and v0["x"].shape[:2] == (5, 3)
    torch.testing.assert_close(v0["x"][:, 1] - 100.0, v0["x"][:, 0])
    torch.testing.assert_close(v1["x"][:, 2] - 200.0, v1["x"][:, 0])


def test_ts2vec_crops_reject_short_series_and_other_view_counts():
    crops = TS2VecCrops((30, 1), min_overlap=4)
    x = padded(torch.randn(3, 30, 1), [30, 3, 30])
    with pytest.raises(SelfsupError, match=r"sample 11 .* 3 observed timestamps.*crop of 4"):
        crops({"x": x, "index": torch.tensor([10, 11, 12])}, 2)
    with pytest.raises(SelfsupError, match="exactly 2"):
        crops({"x": torch.randn(3, 30, 1)}, 3)
    with pytest.raises(SelfsupError, match="min_overlap"):
        TS2VecCrops((3, 1), temporal_unit=1)
    with pytest.raises(SelfsupError, match="crop"):
        TimeSeriesViews((30, 1), crop_length=5)({"x": x, "index": torch.arange(3)}, 2)


# --- view makers -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ts_augment", "tstcc", "ts2vec_crops"])
@pytest.mark.parametrize("shape", [(24, 3), (2, 24, 3)])
def test_view_makers_carry_keys_work_on_devices_and_are_seeded(name, shape):
    views = VIEWS.build(name, shape).to("cpu")  # a module: moves with the method
    assert VIEWS.entry(name).info.modality == "timeseries"
    batch = {"x": torch.randn(6, *shape), "y": torch.arange(6), "index": torch.arange(6) + 10}
    torch.manual_seed(3)
    first = views(batch, 2)
    torch.manual_seed(3)
    again = views(batch, 2)
    assert len(first) == 2
    for a, b in zip(first, again, strict=True):
        assert a["y"] is batch["y"] and a["index"] is batch["index"]
        assert a["x"].dim() == len(shape) + 1 and a["x"].shape[-1] == 3
        assert torch.equal(a["x"], b["x"])
        assert not torch.equal(a["x"], batch["x"])
    assert not torch.equal(first[0]["x"], first[1]["x"]) or name == "ts2vec_crops"


def test_ts_augment_probabilities_are_per_sample():
    torch.manual_seed(0)
    x = torch.ones(400, 10, 1)
    views = TimeSeriesViews((10, 1), jitter_p=0.0, scaling_p=0.5, time_warp_p=0.0,
                            window_slice_p=0.0)
    unchanged = (views.augment(x, 0) == x).all(dim=(1, 2)).float().mean()
    assert float(unchanged) == pytest.approx(0.5, abs=0.08)
    nothing = TimeSeriesViews((10, 1), jitter_p=0.0, scaling_p=0.0, time_warp_p=0.0,
                              window_slice_p=0.0)
    assert torch.equal(nothing.augment(x, 0), x)
    assert TimeSeriesViews((10, 1), crop_length=4).augment(x, 0).shape == (400, 4, 1)


def test_ts_augment_jitter_is_relative_to_each_channel_std():
    torch.manual_seed(0)
    x = torch.randn(256, 50, 2) * torch.tensor([1.0, 100.0])
    only_jitter = {"scaling_p": 0.0, "time_warp_p": 0.0, "window_slice_p": 0.0}
    noise = TimeSeriesViews((50, 2), jitter_sigma=0.1, **only_jitter).augment(x, 0) - x
    assert noise.std(dim=(0, 1)).tolist() == pytest.approx([0.1, 10.0], rel=0.05)
    absolute = TimeSeriesViews((50, 2), jitter_sigma=0.1, jitter_relative=False, **only_jitter)
    noise = absolute.augment(x, 0) - x
    assert noise.std(dim=(0, 1)).tolist() == pytest.approx([0.1, 0.1], rel=0.05)


def test_tstcc_weak_is_per_timestamp_scaling_and_strong_is_jittered_permutation():
    torch.manual_seed(0)
    x = torch.rand(400, 30, 3) + 1.0
    views = TSTCCViews((30, 3))
    factor = views.augment(x, 0) / x
    torch.testing.assert_close(factor, factor[..., :1].expand_as(factor))  # shared by channels
    assert float(factor.mean()) == pytest.approx(2.0, abs=0.02)
    assert float(factor.std()) == pytest.approx(1.1, rel=0.03)
    strong = TSTCCViews((30, 3), jitter_sigma=0.0, max_segments=3).augment(ramp(300, 30, 3), 3)
    assert max(len(runs(r.tolist())) for r in strong[..., 0]) == 3
    no_permutation = TSTCCViews((30, 3), max_segments=1)
    noise = no_permutation.augment(x, 1) - x
    assert float(noise.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(noise.std()) == pytest.approx(0.8, rel=0.02)  # jitter_ratio of the HAR config
    assert not torch.equal(views.augment(x, 2), views.augment(x, 2))


@pytest.mark.parametrize(
    "factory, kwargs, keyword",
    [
        (TimeSeriesViews, {"jitter_sigma": -1.0}, "jitter_sigma"),
        (TimeSeriesViews, {"time_warp_p": 1.5}, "time_warp_p"),
        (TimeSeriesViews, {"window_slice_ratio": 0.0}, "window_slice_ratio"),
        (TimeSeriesViews, {"permutation_max_segments": 0}, "permutation_max_segments"),
        (TimeSeriesViews, {"crop_length": 99}, "crop_length"),
        (TSTCCViews, {"max_segments": 2.5}, "max_segments"),
        (TSTCCViews, {"scale_sigma": -0.1}, "scale_sigma"),
        (TS2VecCrops, {"temporal_unit": -1}, "temporal_unit"),
    ],
)
def test_bad_keywords_are_named(factory, kwargs, keyword):
    with pytest.raises(SelfsupError, match=keyword):
        factory((20, 2), **kwargs)


def test_wrong_input_is_a_clear_error():
    with pytest.raises(SelfsupError, match=r"\(T, C\) or \(D, T, C\)"):
        TimeSeriesViews((3, 8, 8, 2))
    with pytest.raises(SelfsupError, match="shape"):
        TimeSeriesViews((20, 2)).augment(torch.randn(4, 20, 3), 0)
    with pytest.raises(SelfsupError, match="Unknown option"):
        VIEWS.build("ts_augment", (20, 2), jiter_sigma=0.1)
    with pytest.raises(SelfsupError, match="ratio"):
        window_slice(torch.randn(2, 5, 1), 1.5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("name", ["ts_augment", "tstcc", "ts2vec_crops"])
def test_views_run_on_the_batch_device(name):
    x = padded(torch.randn(8, 32, 3), LENGTHS).cuda()
    kwargs = {"permutation_p": 1.0, "frequency_mask_p": 1.0, "magnitude_warp_p": 1.0,
              "timestamp_mask_p": 1.0} if name == "ts_augment" else {}
    for view in VIEWS.build(name, (32, 3), **kwargs)({"x": x}, 2):
        assert view["x"].device == x.device
        assert not torch.isnan(view["x"][:, :1]).any()

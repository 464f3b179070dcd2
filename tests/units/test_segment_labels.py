"""Frame labels from time segments (selfsup.data.segments, selfsup.units.features): the segment at
each frame's centre, for an encoder's known stride, and PNMI / purity against them."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from selfsup.data.segments import SegmentLabels
from selfsup.errors import SelfsupError
from selfsup.registry import ENCODERS
from selfsup.units.api import unit_metrics
from selfsup.units.codebook import Codebook
from selfsup.units.features import collect_frames, frame_centres


def _segments(per_sample: list[list[tuple[float, float, int]]], classes: tuple[str, ...]) -> SegmentLabels:
    flat = [s for sample in per_sample for s in sample]
    return SegmentLabels("phone", classes, [s[0] for s in flat], [s[1] for s in flat], [s[2] for s in flat],
                         np.concatenate([[0], np.cumsum([len(s) for s in per_sample])]))


def test_segment_labels_give_the_segment_covering_each_position_and_minus_one_elsewhere():
    labels = _segments([[(0, 10, 1), (10, 25, 0), (30, 40, 2)], []], ("a", "b", "c"))
    positions = np.array([0, 9.9, 10, 24.9, 25, 29, 30, 39.5, 40, 100])
    assert labels.at(0, positions).tolist() == [1, 1, 0, 0, -1, -1, 2, 2, -1, -1]
    assert labels.at(1, positions).tolist() == [-1] * 10


def test_take_reorders_samples_with_their_own_segments():
    labels = _segments([[(0, 5, 0)], [(0, 3, 1), (3, 9, 2)], [(2, 4, 2)]], ("a", "b", "c"))
    taken = labels.take([2, 0, 1])
    assert taken.offsets.tolist() == [0, 1, 2, 4]
    assert taken.at(0, [3]).tolist() == [2] and taken.at(1, [1]).tolist() == [0] and taken.at(2, [4]).tolist() == [2]


@pytest.mark.parametrize("segments", [
    [[(0, 10, 0), (5, 20, 1)]],  # overlapping
    [[(10, 20, 0), (0, 5, 1)]],  # out of order
    [[(5, 5, 0)]],  # empty
    [[(0, 5, 3)]],  # no such class
])
def test_segments_that_overlap_run_backwards_or_name_no_class_are_refused(segments):
    with pytest.raises(SelfsupError, match="phone segments"):
        _segments(segments, ("a", "b"))


def test_segments_of_different_samples_may_restart_at_zero():
    assert _segments([[(0, 10, 0), (10, 20, 1)], [(0, 4, 1)]], ("a", "b")).num_samples == 2


def _wav2vec(length: int):
    audio = pytest.importorskip("selfsup.modalities.audio.data.source")
    spec = audio.AudioSpec(sample_rate=16000, length=length)
    return ENCODERS.build("wav2vec_transformer", spec, conv_channels=4, dim=8, depth=1, heads=2).eval()


def test_frame_labels_are_the_segment_at_each_wav2vec_frames_centre():
    encoder = _wav2vec(3200)
    assert (encoder.stride, encoder.receptive_field) == (320, 400)
    np.testing.assert_allclose(frame_centres(encoder, 3), [199.5, 519.5, 839.5])
    # segment k ends 0.5 samples after the centre of frame k (320 k + 199.5): only the encoder's own
    # frame positions read label k at frame k (spreading 9 frames evenly over 3,200 samples does not)
    bounds = [-120 + 320 * k for k in range(11)] + [3200]
    segments = _segments([[(max(a, 0), b, k) for k, (a, b) in enumerate(itertools.pairwise(bounds))]] * 2,
                         tuple(str(k) for k in range(11)))
    x = torch.randn(2, 3200)
    x[1, 1600:] = float("nan")  # clip 1 is half as long: 4 frames
    batch = {"x": x, "index": torch.tensor([0, 1]), "y": torch.tensor([0, 1])}
    frames = collect_frames(encoder, [[batch]], segments=segments)
    assert frames.offsets.tolist() == [0, 9, 13]
    assert frames.labels.tolist() == list(range(9)) + list(range(4))
    assert frames.frame_labels and frames.labels_from == "phone at each frame's centre"


def test_an_encoder_that_does_not_say_where_its_frames_lie_falls_back_to_sample_labels():
    encoder = ENCODERS.build("dilated_cnn", (10, 2), hidden_dim=4, output_dim=6, depth=1)
    segments = _segments([[(0, 10, 1)]] * 2, ("a", "b"))
    batch = {"x": torch.randn(2, 10, 2), "index": torch.tensor([0, 1]), "y": torch.tensor([0, 1])}
    frames = collect_frames(encoder, [[batch]], segments=segments)
    assert frames.labels.tolist() == [0] * 10 + [1] * 10 and not frames.frame_labels
    assert "does not say where its frames lie" in frames.labels_from


class _Framer(nn.Module):
    """Frames of 2 samples every 2 samples (stride 2, receptive field 2); a frame's feature is its
    first sample, so the test decides every frame's unit."""

    stride, receptive_field = 2, 2

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward_sequence(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, ::2, None]


def test_pnmi_and_phone_purity_against_phone_segments_match_the_formula_by_hand():
    # 4 frames: centres at samples 0.5, 2.5, 4.5, 6.5; phones a a b b; units 0 0 0 1
    x = torch.tensor([[1.0, 0, 1, 0, 1, 0, 2, 0]])
    segments = _segments([[(0, 4, 0), (4, 8, 1)]], ("a", "b"))
    frames = collect_frames(_Framer(), [[{"x": x, "index": torch.tensor([0]), "y": torch.tensor([0])}]],
                            segments=segments)
    assert frames.labels.tolist() == [0, 0, 1, 1]
    codebook = Codebook(centroids=np.array([[1.0], [2.0]], dtype=np.float32), run="", layer=None,
                        modality="audio", data="")
    metrics = unit_metrics(codebook, [frames])
    # p(a,0) = 1/2, p(b,0) = 1/4, p(b,1) = 1/4; p(z=0) = 3/4, p(z=1) = 1/4; H(y) = ln 2
    mutual = 0.5 * math.log(0.5 / (0.5 * 0.75)) + 0.25 * math.log(0.25 / (0.5 * 0.75)) + 0.25 * math.log(0.25 / (0.5 * 0.25))
    assert metrics["pnmi"] == pytest.approx(mutual / math.log(2), rel=1e-12)
    assert metrics["phone_purity"] == pytest.approx(0.75 * (2 / 3) + 0.25 * 1.0)
    assert metrics["purity_labels"] == "phone at each frame's centre"

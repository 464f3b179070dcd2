"""Frames of an encoder over data (selfsup.units.features): which exist, and their labels."""

from __future__ import annotations

import numpy as np
import torch

from selfsup.registry import ENCODERS
from selfsup.units.features import collect_frames, labels_at_frames


def test_frame_labels_per_input_step_are_read_at_each_frames_centre():
    frame_y = torch.tensor([[0, 0, 1, 1, 2, 2, 3, 3]])
    assert labels_at_frames(frame_y, 8).tolist() == frame_y.tolist()
    assert labels_at_frames(frame_y, 4).tolist() == [[0, 1, 2, 3]]
    assert labels_at_frames(frame_y, 2).tolist() == [[1, 3]]  # centres at steps 2 and 6


def test_collect_frames_keeps_observed_steps_with_their_frame_labels():
    encoder = ENCODERS.build("dilated_cnn", (10, 2), hidden_dim=4, output_dim=6, depth=1)
    x = torch.randn(3, 10, 2)
    x[1, 7:] = float("nan")  # sample 1 has 7 steps
    frame_y = torch.arange(30).view(3, 10)
    frames = collect_frames(encoder, [[{"x": x, "frame_y": frame_y, "y": torch.tensor([0, 1, 0])}]])
    assert frames.offsets.tolist() == [0, 10, 17, 27]
    assert frames.labels.tolist() == list(range(10)) + list(range(10, 17)) + list(range(20, 30))
    assert frames.frame_labels and frames.sample_labels.tolist() == [0, 1, 0]
    expected = encoder.eval().forward_sequence(x)[1, :7]
    np.testing.assert_allclose(frames.features[10:17], expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_a_layer_without_per_frame_output_is_one_error():
    import pytest

    from selfsup.errors import SelfsupError
    from selfsup.units.features import frame_outputs

    audio = pytest.importorskip("selfsup.modalities.audio.data.source")
    encoder = ENCODERS.build("logmel_cnn", audio.AudioSpec(sample_rate=16000, length=40, features=13),
                             channels=4, hidden_dim=8).eval()
    x = torch.randn(2, 13, 40)
    assert frame_outputs(encoder, x)[0].shape[0] == 2
    with pytest.raises(SelfsupError, match="do not give one vector per"):
        frame_outputs(encoder, x, layer=1)

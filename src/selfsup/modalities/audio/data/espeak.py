"""espeak-ng through its C library, with the time of every phoneme.

espeak-ng's command line gives audio or phoneme names, never when each phoneme starts
(``--pho`` needs mbrola voices). Its library does: ``espeak_Initialize`` with
``espeakINITIALIZE_PHONEME_EVENTS`` reports an ``espeakEVENT_PHONEME`` event, with its position in
the output (``audio_position``, ms) and its mnemonic (``id.string``), beside the samples of the
same synthesis (22,050 Hz, int16). It is called here with :mod:`ctypes` (the layout of
``speak_lib.h``), so no compiled dependency is added.

**One process per utterance.** The library keeps state from one synthesis to the next (the same
word after another one comes out a few samples, sometimes tens of milliseconds, longer), so each
utterance is synthesised in a freshly forked process, as the command line does: the output is
then bit-identical to ``espeak-ng -v VOICE -s SPEED -p PITCH --stdout WORD`` and independent of
what was spoken before. The forking happens in a worker started with ``python -I`` on this file
(standard library only, no threads), never in the caller's process, which may hold torch's
threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import struct
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

#: espeak_AUDIO_OUTPUT AUDIO_OUTPUT_SYNCHRONOUS: samples come to the callback, Synth returns when done
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
EVENT_LIST_TERMINATED, EVENT_PHONEME = 0, 7
PARAMETER_RATE, PARAMETER_PITCH = 1, 3
#: espeakCHARS_AUTO | espeakPHONEMES | espeakENDPAUSE: the flags the espeak-ng command line speaks with
SYNTH_FLAGS = 0x0 | 0x100 | 0x1000
HEADER = struct.Struct("<iii")  # sample rate, samples (-1: failed), bytes of the JSON that follows


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT`` of ``speak_lib.h``."""

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


class _Voice(ctypes.Structure):
    """``espeak_VOICE`` of ``speak_lib.h`` (a voice asked for by language)."""

    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Speech:
    """One utterance: ``samples`` (int16 PCM bytes at ``sample_rate``) and ``phonemes``, the
    ``(start in seconds, espeak-ng mnemonic)`` of each phoneme in order; a phoneme lasts until
    the next one starts, the last until the end of the samples."""

    samples: bytes
    sample_rate: int
    phonemes: tuple[tuple[float, str], ...]


def library_path() -> str | None:
    """The espeak-ng shared library's name as the dynamic loader finds it, or None."""
    return ctypes.util.find_library("espeak-ng")


def speak(requests: list[tuple[str, str, int, int]], library: str | None = None) -> list[Speech | str]:
    """Speak every ``(text, voice, words per minute, pitch 0-99)`` with espeak-ng's library; each
    result is a :class:`Speech`, or a one-line reason where that utterance failed (a voice the
    library does not load). One worker process does them all (see the module doc)."""
    library = library or library_path()
    if library is None:
        return ["the espeak-ng library (libespeak-ng.so) was not found"] * len(requests)
    worker = subprocess.run([sys.executable, "-I", __file__, library], input=json.dumps(requests).encode(),
                            capture_output=True, check=False)
    results: list[Speech | str] = []
    out, at = worker.stdout, 0
    while at + HEADER.size <= len(out) and len(results) < len(requests):
        rate, samples, size = HEADER.unpack_from(out, at)
        at += HEADER.size
        pcm = out[at: at + 2 * max(samples, 0)]
        at += len(pcm)
        facts = json.loads(out[at: at + size])
        at += size
        results.append(Speech(pcm, rate, tuple((ms / 1000, name) for ms, name in facts)) if samples >= 0
                       else str(facts))
    reason = worker.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {worker.returncode}"]
    return results + [f"the espeak-ng worker stopped ({reason[0]})"] * (len(requests) - len(results))


def _synthesise(lib: Any, text: str, voice: str, speed: int, pitch: int) -> tuple[int, bytes, list]:
    """In a fresh process: ``(sample rate, int16 samples, [[ms, phoneme], ...])``."""
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, INITIALIZE_PHONEME_EVENTS)
    if rate <= 0:
        raise RuntimeError(f"espeak_Initialize failed ({rate})")
    chunks, phonemes = [], []

    def receive(wave: Any, count: int, events: Any) -> int:
        if count > 0:
            chunks.append(ctypes.string_at(wave, 2 * count))
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            if events[i].type == EVENT_PHONEME:
                name = events[i].id.string.split(b"\0")[0].decode("utf-8", errors="replace")
                phonemes.append([int(events[i].audio_position), name])
            i += 1
        return 0  # go on

    callback = _Callback(receive)  # kept referenced until Synth returns
    lib.espeak_SetSynthCallback(callback)
    # as the command line does: a voice name, else a language (with its +variant)
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        spec = _Voice(languages=voice.encode())
        if lib.espeak_SetVoiceByProperties(ctypes.byref(spec)) != 0:
            raise RuntimeError(f"voice {voice!r} did not load")
    lib.espeak_SetParameter(PARAMETER_RATE, int(speed), 0)
    lib.espeak_SetParameter(PARAMETER_PITCH, int(pitch), 0)
    encoded = text.encode() + b"\0"
    status = lib.espeak_Synth(encoded, len(encoded), 0, 0, 0, SYNTH_FLAGS, None, None)
    if status != 0:
        raise RuntimeError(f"espeak_Synth failed ({status})")
    return rate, b"".join(chunks), phonemes


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _complete(record: bytes) -> bool:
    if len(record) < HEADER.size:
        return False
    _, samples, size = HEADER.unpack_from(record)
    return len(record) == HEADER.size + 2 * max(samples, 0) + size


def _worker(library: str) -> None:
    """Read the requests (JSON) from stdin; synthesise each in a forked child, which sends its
    record (``HEADER`` + samples + JSON) through a pipe; pass on complete records only, so a child
    that dies half-way becomes one failed utterance, not a garbled stream."""
    lib = ctypes.CDLL(library)
    for text, voice, speed, pitch in json.loads(sys.stdin.buffer.read()):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                rate, samples, phonemes = _synthesise(lib, text, voice, speed, pitch)
                facts = json.dumps(phonemes).encode()
                record = HEADER.pack(rate, len(samples) // 2, len(facts)) + samples + facts
            except Exception as error:  # noqa: BLE001 - the reason becomes this utterance's result
                facts = json.dumps(f"{type(error).__name__}: {error}").encode()
                record = HEADER.pack(0, -1, len(facts)) + facts
            _write(write_end, record)
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            record = pipe.read()
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0 or not _complete(record):
            facts = json.dumps(f"the synthesis process ended with status {code}").encode()
            record = HEADER.pack(0, -1, len(facts)) + facts
        _write(1, record)


if __name__ == "__main__":
    _worker(sys.argv[1])

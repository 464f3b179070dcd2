"""Audio: a folder of audio files or an ``.npz`` of waveforms read with soundfile, the built-ins
``spoken_words`` (espeak-ng) and ``fsdd_mfcc``, batched waveform and log-mel views, a log-mel CNN
and a wav2vec-style waveform encoder, and the methods written for speech: BYOL-A, HuBERT and
wav2vec 2.0."""

from __future__ import annotations

# Importing the modules registers the modality's data sets, views, encoders and methods.
from selfsup.modalities.audio.data import builtins  # noqa: F401
from selfsup.modalities.audio.encoders import logmel_cnn, patch_transformer, wav2vec  # noqa: F401
from selfsup.modalities.audio.methods import byol_a, hubert, wav2vec2  # noqa: F401
from selfsup.modalities.audio.spec import SPEC
from selfsup.modalities.audio.views import augment  # noqa: F401

__all__ = ["SPEC"]

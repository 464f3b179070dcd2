"""The audio modality's spec: defaults, capabilities and evaluation protocol."""

from __future__ import annotations

from selfsup.modalities.audio.data.files import read_audio
from selfsup.modalities.audio.data.source import AudioSpec
from selfsup.modality import ModalitySpec, register_modality

SPEC = register_modality(
    ModalitySpec(
        name="audio",
        description="a folder of .wav/.flac/.ogg clips (class sub-folders = labels) or an .npz of "
        "waveforms; resampled to one rate, lengths kept",
        read=read_audio,
        default_encoder="logmel_cnn",
        default_views="audio_augment",
        input_spec_from_dict=AudioSpec.from_dict,
        # MAE / JEPA need patch tokens: the log-mel patch transformer provides them
        encoders_for={"sequence": "logmel_cnn", "tokens": "logmel_patch_transformer"},
        extra="audio",
    )
)

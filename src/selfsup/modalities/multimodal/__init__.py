"""Paired data across modalities: samples made of named per-modality parts (a ``pairs.yaml``, the
built-ins ``av_digits`` and ``synthetic_astro``), the paired encoder (one encoder per part + a joint
space) and views, the cross-modal methods (CLIP for N modalities, SigLIP, CLIP + SimCLR, MV-InfoNCE
over modalities) and the evaluation of paired runs (cross-modal retrieval, per-part probes, a
missing part at test time). Fine-tune one part of a run with ``selfsup finetune RUN --part NAME``.
"""

from __future__ import annotations

# Importing the modules registers the modality's data sets, views, encoders and methods.
from selfsup.modalities.multimodal import encoders, methods, views  # noqa: F401
from selfsup.modalities.multimodal.data import builtins, more_builtins  # noqa: F401
from selfsup.modalities.multimodal.data.source import PairedSource, PairedSpec, paired_source
from selfsup.modalities.multimodal.spec import SPEC

__all__ = ["SPEC", "PairedSource", "PairedSpec", "paired_source"]

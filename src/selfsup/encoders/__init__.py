"""Modality-free encoders and the helpers every encoder shares.

Modality encoders live in their modality's package (``selfsup.modalities.image.encoders`` …)
and are built by name from :data:`selfsup.registry.ENCODERS`. Every encoder maps ``batch["x"]``
to ``[B, output_dim]``; token encoders also have ``forward_tokens(x) -> [B, N, D]``. Factories
take the modality's input spec first: ``ENCODERS.build("resnet18", (3, 32, 32), small_stem=True)``.
"""

from __future__ import annotations

from selfsup.encoders.mlp import MLPEncoder

__all__ = ["MLPEncoder"]

"""Encoders per modality, built by name from ``ENCODERS`` or constructed directly.

Every encoder maps ``batch["x"]`` to ``[B, output_dim]``; token encoders also have
``forward_tokens(x) -> [B, N, D]``. Factories take the per-sample input shape first:
``ENCODERS.build("resnet18", (3, 32, 32), small_stem=True)``.
"""

from __future__ import annotations

# Importing the modules registers their encoders.
from selfsup.encoders import conv1d, patch_transformer, timeseries  # noqa: F401  (time series)
from selfsup.encoders import tstcc_cnn  # noqa: F401  (TS-TCC's encoder)
from selfsup.encoders.cnn import SmallCNN
from selfsup.encoders.mlp import MLPEncoder
from selfsup.encoders.resnet import ResNetEncoder
from selfsup.encoders.vit import ViTEncoder

__all__ = ["MLPEncoder", "ResNetEncoder", "SmallCNN", "ViTEncoder"]

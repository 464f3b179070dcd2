"""Text encoders: ``bert`` (the token contract, sizes tiny..base), ``text_cnn`` and ``text_gru``.
Importing this package registers them."""

from __future__ import annotations

from selfsup.modalities.text.encoders import baselines, bert  # noqa: F401

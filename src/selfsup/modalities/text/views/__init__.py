"""Text views: batched ops on token ids (:mod:`.ops`) and the registered view makers
``text_augment``, ``text_twice``, ``text_identity`` (:mod:`.augment`). Importing this package
registers them."""

from __future__ import annotations

from selfsup.modalities.text.views import augment, ops  # noqa: F401

"""Methods written for paired data (their modules register them)."""

from selfsup.modalities.multimodal.methods import clip, clip_mv, clip_simclr, siglip  # noqa: F401

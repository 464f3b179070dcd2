"""Methods written for event sequences."""

from selfsup.modalities.events.methods import coles  # noqa: F401

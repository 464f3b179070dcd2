"""Methods written for event sequences."""

from selfsup.modalities.events.methods import coles, cpc, masked  # noqa: F401

"""Methods written for event sequences."""

from selfsup.modalities.events.methods import cl4srec, coles, cpc, masked, sasrec  # noqa: F401

"""Fixtures of the adversarial suite (the harness is tests/_reliability.py)."""

from _reliability import places, trained_run  # noqa: F401 - pytest finds fixtures by name

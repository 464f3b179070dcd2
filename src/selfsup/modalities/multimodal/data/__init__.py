"""Paired data: the paired source, pairs.yaml, and the built-in paired sets."""

"""Losses written for event sequences (CoLES's margin contrastive loss)."""

"""Losses written for the tabular methods (SCARF's one-sided InfoNCE, VIME's pretext terms)."""

"""Graph methods."""

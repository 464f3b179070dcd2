"""Graph losses."""

"""Event-sequence encoders: an event embedding followed by a GRU or a small transformer."""

"""Graph views."""

"""Graph data: the batch structure, sources, readers and built-in sets."""

"""Event-sequence data: the batch structure, encoding with train-only statistics, readers, built-ins."""

"""Table data: the batch structure, schema inference, train-only encoding, readers, built-ins."""

"""Table encoders: ``batch["x"]`` (a TabularBatch) -> ``[B, D]``."""

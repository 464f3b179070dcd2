"""Part of a modality package; see the package docstring."""

"""Event-sequence views: CoLES random slices and CL4SRec's crop / mask / reorder."""

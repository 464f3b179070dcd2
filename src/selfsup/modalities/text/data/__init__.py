"""Text data: the batch structure, tokenisation, readers, built-ins (fortunes, bible_verses)."""

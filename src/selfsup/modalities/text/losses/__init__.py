"""Losses of the methods written for text, as plain functions: masked-token cross-entropy (BERT),
replaced-token detection (ELECTRA) and SimCSE's in-batch contrastive loss."""

"""Encoders of users and items: ID embeddings (``mf``) and LightGCN propagation (``lightgcn``)."""

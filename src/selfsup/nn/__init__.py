"""Building blocks the methods share: heads (``heads``), the momentum teacher
(``momentum_teacher``, on the EMA arithmetic of ``ema``), the autograd-aware ``gather``, queues,
Sinkhorn-Knopp, k-means, token masks, position embeddings, the token predictor and the vector
quantisers (``quantizers``: VQ, Gumbel, product, residual, FSQ)."""

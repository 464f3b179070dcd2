"""Building blocks the methods share: heads (``heads``), the momentum teacher
(``momentum_teacher``, on the EMA arithmetic of ``ema``), the autograd-aware ``gather``, queues,
Sinkhorn-Knopp, k-means, token masks, position embeddings and the token predictor."""

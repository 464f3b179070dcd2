"""Weighted k-nearest-neighbour classification of frozen embeddings.

The protocol of Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric Instance
Discrimination" (InstDisc, CVPR), Sec. 3.4, which most SSL papers since report as "kNN
accuracy": embeddings are L2-normalised, the ``k`` training samples with the highest cosine
similarity ``s_i`` to a test sample vote for their class with weight ``exp(s_i / τ)``, and the
class with the largest total weight is predicted. InstDisc uses ``k=200, τ=0.07``; we default
to ``k=20`` (DINO's choice), which is better suited to the small data sets selfsup is often run
on.

This module also holds the input checks shared by the other evaluation modules, so that every
score accepts numpy arrays or torch tensors and fails with one clear message.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from selfsup.errors import SelfsupError

# Largest similarity block [chunk, N_train] held at once (float32 elements, i.e. 256 MiB).
_MAX_BLOCK_ELEMENTS = 1 << 26


def as_embeddings(emb: Any, name: str, min_rows: int = 1) -> torch.Tensor:
    """Check ``emb`` is a finite 2-D array ``[N, D]`` and return it as a float tensor.

    The tensor keeps its device (so a CUDA batch is scored on the GPU); float64 stays float64,
    every other dtype becomes float32.
    """
    if isinstance(emb, torch.Tensor):
        tensor = emb.detach()
    else:
        try:
            tensor = torch.as_tensor(np.asarray(emb))
        except (TypeError, ValueError) as err:
            raise SelfsupError(
                f"{name} must be a numeric array [N, D]; got {type(emb).__name__}."
            ) from err
    if tensor.dtype != torch.float64:
        tensor = tensor.float()
    if tensor.ndim != 2:
        raise SelfsupError(
            f"{name} must have shape [N, D]; got shape {tuple(tensor.shape)}. "
            "Flatten or pool the embeddings first."
        )
    if tensor.shape[0] < min_rows or tensor.shape[1] == 0:
        raise SelfsupError(
            f"{name} needs at least {min_rows} row(s) and 1 column; "
            f"got shape {tuple(tensor.shape)}."
        )
    if not bool(torch.isfinite(tensor).all()):
        raise SelfsupError(
            f"{name} contains NaN or infinite values; the encoder probably diverged "
            "(check the training loss and learning rate)."
        )
    return tensor


def as_labels(labels: Any, name: str, n: int) -> torch.Tensor:
    """Check ``labels`` is a vector of ``n`` integer class labels; return them as int64 (CPU)."""
    if isinstance(labels, torch.Tensor):
        tensor = labels.detach().cpu()
    else:
        tensor = torch.as_tensor(np.asarray(labels))
    tensor = tensor.reshape(-1) if tensor.ndim == 2 and 1 in tensor.shape else tensor
    if tensor.ndim != 1 or tensor.shape[0] != n:
        raise SelfsupError(
            f"{name} must be a vector of {n} labels (one per embedding); "
            f"got shape {tuple(tensor.shape)}."
        )
    if tensor.is_floating_point() and not bool((tensor == tensor.round()).all()):
        raise SelfsupError(f"{name} must hold integer class labels; got non-integer values.")
    return tensor.long()


def knn_predict(
    train_emb: Any,
    train_y: Any,
    test_emb: Any,
    k: int = 20,
    temperature: float = 0.07,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Predict test labels by a similarity-weighted vote of the ``k`` nearest training samples.

    Args:
        train_emb: ``[N, D]`` training embeddings (numpy or torch).
        train_y: ``[N]`` integer labels of the training embeddings.
        test_emb: ``[M, D]`` embeddings to classify.
        k: number of neighbours; clipped to ``N``.
        temperature: τ in the vote weight ``exp(s / τ)``; smaller means closer neighbours
            count more.
        chunk_size: test rows scored at once; by default as many as keep the ``[chunk, N]``
            similarity block under 256 MiB.

    Returns:
        ``[M]`` int64 predicted labels on the CPU (values taken from ``train_y``).
    """
    train = as_embeddings(train_emb, "train_emb")
    test = as_embeddings(test_emb, "test_emb").to(device=train.device, dtype=train.dtype)
    labels = as_labels(train_y, "train_y", train.shape[0])
    if test.shape[1] != train.shape[1]:
        raise SelfsupError(
            f"test_emb has {test.shape[1]} dimensions but train_emb has {train.shape[1]}; "
            "both must come from the same encoder."
        )
    if k < 1 or temperature <= 0:
        raise SelfsupError(
            f"kNN needs k >= 1 and temperature > 0; got k={k}, temperature={temperature}."
        )

    # Vote over dense class indices so arbitrary label values (e.g. {3, 17}) cost no memory.
    classes, class_idx = torch.unique(labels, return_inverse=True)
    class_idx = class_idx.to(train.device)
    n_train, n_classes = train.shape[0], classes.numel()
    k = min(k, n_train)
    if chunk_size is None:
        chunk_size = max(1, _MAX_BLOCK_ELEMENTS // n_train)

    train = F.normalize(train, dim=1)
    test = F.normalize(test, dim=1)
    predictions = []
    for start in range(0, test.shape[0], chunk_size):
        similarity = test[start : start + chunk_size] @ train.T  # [chunk, N]
        top_sim, top_idx = similarity.topk(k, dim=1)  # [chunk, k]
        weights = (top_sim / temperature).exp()
        votes = torch.zeros(top_idx.shape[0], n_classes, dtype=weights.dtype, device=train.device)
        votes.scatter_add_(1, class_idx[top_idx], weights)
        predictions.append(votes.argmax(dim=1).cpu())
    return classes[torch.cat(predictions)]


def knn_accuracy(
    train_emb: Any,
    train_y: Any,
    test_emb: Any,
    test_y: Any,
    k: int = 20,
    temperature: float = 0.07,
    chunk_size: int | None = None,
) -> float:
    """Accuracy of the weighted kNN classifier of Wu et al. 2018 (InstDisc).

    For a test embedding ``q`` and training embeddings ``x_i`` (all L2-normalised), with
    ``N_k(q)`` the ``k`` training samples of highest cosine similarity ``s_i = q·x_i``::

        ŷ(q) = argmax_c  Σ_{i ∈ N_k(q), y_i = c}  exp(s_i / τ)

    Args:
        train_emb: ``[N, D]`` training embeddings (numpy or torch).
        train_y: ``[N]`` integer training labels.
        test_emb: ``[M, D]`` test embeddings.
        test_y: ``[M]`` integer test labels.
        k: number of neighbours (clipped to ``N``).
        temperature: τ of the vote weights.
        chunk_size: test rows per similarity block (see :func:`knn_predict`).

    Returns:
        Fraction of test samples classified correctly, in [0, 1].

    Example:
        >>> import torch
        >>> x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
        >>> knn_accuracy(x, [0, 0, 1, 1], x, [0, 0, 1, 1], k=2)
        1.0
    """
    predicted = knn_predict(train_emb, train_y, test_emb, k, temperature, chunk_size)
    truth = as_labels(test_y, "test_y", predicted.shape[0])
    return float((predicted == truth).double().mean())

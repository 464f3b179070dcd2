"""Embed a data set with a frozen encoder and score the embeddings with every evaluation.

:func:`embed_tensor` turns an encoder and an input tensor into embeddings;
:func:`evaluate_embeddings` runs the kNN and linear probes (when labels exist) and the
label-free scores, returning one flat dict of floats that the engine logs and the report shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.eval.knn import as_embeddings, knn_accuracy
from selfsup.eval.label_free import (
    alignment,
    alpha_req,
    collapse_ratio,
    embedding_std,
    rankme,
    uniformity,
)
from selfsup.eval.linear import linear_probe
from selfsup.eval.svm import svm_probe

# Uniformity is O(N²); past this many test embeddings a fixed random subset is scored.
UNIFORMITY_MAX_SAMPLES = 10_000


def _module_device(module: nn.Module) -> torch.device:
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


def embed_tensor(
    encoder: nn.Module,
    x: torch.Tensor,
    batch_size: int = 512,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Embed ``x`` with ``encoder`` in evaluation mode, without gradients, batch by batch.

    Every submodule's ``training`` flag is restored afterwards individually, so a submodule
    the caller had deliberately frozen in eval mode (e.g. a BatchNorm) stays so.

    Args:
        encoder: module mapping an input batch ``[B, ...]`` to embeddings ``[B, D]``.
        x: ``[N, ...]`` inputs, in the structure ``encoder`` takes (on any device).
        batch_size: inputs per forward pass.
        device: where the inputs are sent; ``None`` means the device of the encoder's
            parameters (the encoder itself is not moved).

    Returns:
        ``[N, D]`` float32 embeddings on the CPU.
    """
    if batch_size < 1:
        raise SelfsupError(f"batch_size must be >= 1; got {batch_size}.")
    if x.shape[0] == 0:
        raise SelfsupError("embed_tensor got an empty input (0 samples); nothing to embed.")
    target = torch.device(device) if device is not None else _module_device(encoder)
    modes = {module: module.training for module in encoder.modules()}
    encoder.eval()
    try:
        chunks = []
        with torch.no_grad():
            for start in range(0, x.shape[0], batch_size):
                out = encoder(x[start : start + batch_size].to(target))
                if not isinstance(out, torch.Tensor) or out.ndim != 2:
                    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    raise TypeError(
                        f"{type(encoder).__name__} must return pooled embeddings [B, D]; got {got}."
                    )
                chunks.append(out.float().cpu())
    finally:
        for module, training in modes.items():
            module.training = training
    return torch.cat(chunks)


def embed_loader(
    encoder: nn.Module,
    loader: Iterable[dict[str, Any]],
    finish: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Embed every batch of ``loader`` with ``encoder`` in evaluation mode, without gradients.

    Each batch dict is moved to ``device`` (default: the encoder's), given to ``finish`` (the data
    source's on-device step, e.g. ``uint8`` pixels to float) and its ``"x"`` to the encoder; any
    input structure the encoder takes passes through. Training flags are restored afterwards.

    Returns:
        ``[N, D]`` float32 embeddings on the CPU, in the loader's order.
    """
    target = torch.device(device) if device is not None else _module_device(encoder)
    modes = {module: module.training for module in encoder.modules()}
    encoder.eval()
    chunks = []
    try:
        with torch.no_grad():
            for batch in loader:
                batch = move_to(batch, target)
                if finish is not None:
                    batch = finish(batch)
                chunks.append(_pooled(encoder, encoder(batch["x"])))
    finally:
        for module, training in modes.items():
            module.training = training
    if not chunks:
        raise SelfsupError("There is nothing to embed: the data has 0 samples.")
    return torch.cat(chunks)


def move_to(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor in it (dicts, lists, tuples; objects with ``.to``) on ``device``."""
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if hasattr(batch, "to") and callable(batch.to):  # tensors, PyG batches, a modality's own types
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch


def _pooled(encoder: nn.Module, out: Any) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"{type(encoder).__name__} must return pooled embeddings [B, D]; got {got}.")
    return out.float().cpu()


def evaluate_embeddings(
    train_emb: Any,
    train_y: Any | None,
    test_emb: Any | None,
    test_y: Any | None,
    k: int = 20,
    views_emb: tuple[Any, Any] | None = None,
    svm: bool = False,
    label_free_emb: Any | None = None,
    svm_cv_samples: int = 1_000,
    linear_max_samples: int | None = None,
) -> dict[str, float]:
    """Every evaluation of frozen embeddings, as one flat dict of floats.

    Args:
        train_emb: ``[N, D]`` embeddings of the training split (fits the kNN and linear probes).
        train_y: ``[N]`` integer labels, or None for unlabeled data.
        test_emb: ``[M, D]`` embeddings of the held-out split; None when there is none (the
            label-free scores are then computed on ``train_emb``).
        test_y: ``[M]`` integer labels, or None.
        k: neighbours of the kNN classifier.
        views_emb: optional ``([M, D], [M, D])`` embeddings of two augmented views of the
            test inputs, for the alignment score.
        svm: also fit the RBF-SVM probe of TS2Vec's protocol (``svm_acc``, ``svm_f1``).
        label_free_emb: optional ``[K, D]`` subset of the test embeddings on which the label-free
            scores are computed instead (bounded memory on very large data).
        svm_cv_samples: the SVM's ``C`` is cross-validated on at most this many training samples.
        linear_max_samples: the linear probe fits on at most this many training samples (a
            seeded stratified subset; None: all).

    Returns:
        Label-free keys always: ``rankme``, ``alpha_req``, ``emb_std``, ``collapse_ratio``, ``uniformity``
        (on the test embeddings), plus ``alignment`` when ``views_emb`` is given. When both
        label vectors and ``test_emb`` are given, also ``knn_acc``, ``linear_acc`` and
        ``linear_f1`` (macro-F1 of the linear probe), and ``svm_acc`` / ``svm_f1`` when ``svm``.
    """
    if label_free_emb is None:
        # a spectrum needs two rows: a one-sample test split leaves the scores to the train split
        label_free_emb = test_emb if test_emb is not None and len(test_emb) >= 2 else train_emb
    scored = as_embeddings(label_free_emb, "label_free_emb")
    results: dict[str, float] = {}
    if train_y is not None and test_y is not None and test_emb is not None:
        results["knn_acc"] = knn_accuracy(train_emb, train_y, test_emb, test_y, k=k)
        probe = linear_probe(train_emb, train_y, test_emb, test_y, max_train=linear_max_samples)
        results["linear_acc"] = probe["accuracy"]
        results["linear_f1"] = probe["macro_f1"]
        if svm:
            fitted = svm_probe(train_emb, train_y, test_emb, test_y, cv_max=svm_cv_samples)
            results["svm_acc"] = fitted["accuracy"]
            results["svm_f1"] = fitted["macro_f1"]
    results["rankme"] = rankme(scored)
    results["alpha_req"] = alpha_req(scored)
    results["emb_std"] = embedding_std(scored)
    results["collapse_ratio"] = collapse_ratio(scored)
    if scored.shape[0] >= 2:
        results["uniformity"] = uniformity(scored, max_samples=UNIFORMITY_MAX_SAMPLES)
    if views_emb is not None:
        results["alignment"] = alignment(*views_emb)
    return results

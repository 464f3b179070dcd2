"""The end-of-run evaluation: pretrained vs random-init encoder vs raw inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from selfsup.config import EvalConfig
from selfsup.data.base import DataBundle

# Raw inputs larger than this many values per sample are not evaluated (kNN on 150k-pixel
# images says little and costs a lot).
MAX_RAW_FEATURES = 65_536
# Samples per draw of the alignment views (a training-sized batch).
VIEWS_BATCH = 64


def _views_embeddings(encoder: nn.Module, views: nn.Module, x: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of two random views of ``x`` (for the alignment score), with a fixed seed.

    The views are drawn batch by batch (``VIEWS_BATCH`` samples), as in training: a view maker
    may draw one parameter per batch (TS2Vec's crop lengths), and a single draw for the whole
    split could be unrepresentative (two full-length crops give an alignment of exactly 0).
    """
    from selfsup.eval import embed_tensor

    device = next((p.device for p in encoder.parameters()), torch.device("cpu"))
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    first, second = [], []
    try:
        for chunk in x.split(VIEWS_BATCH):
            with torch.no_grad():
                v1, v2 = views({"x": chunk.to(device)}, 2)
            first.append(embed_tensor(encoder, v1["x"]))
            second.append(embed_tensor(encoder, v2["x"]))
        return torch.cat(first), torch.cat(second)
    finally:
        torch.random.set_rng_state(state)


def evaluate_encoder(
    encoder: nn.Module, bundle: DataBundle, views: nn.Module | None, eval_config: EvalConfig, seed: int
) -> tuple[dict[str, float], torch.Tensor]:
    """Frozen-embedding scores of one encoder on the bundle's held-out split: kNN and linear
    accuracy when there is a labeled test split; RankMe, std, uniformity and — given a view
    maker — alignment always. Also returns the held-out embeddings ``[N, D]``."""
    from selfsup.eval import embed_tensor, evaluate_embeddings

    x_eval, _ = bundle.held_out
    train_emb = embed_tensor(encoder, bundle.x_train)
    # Without a test split the train split is the held-out one: embed it once.
    eval_emb = embed_tensor(encoder, x_eval) if bundle.x_test is not None else train_emb
    views_emb = _views_embeddings(encoder, views, x_eval, seed) if views is not None else None
    scores = evaluate_embeddings(
        train_emb,
        bundle.y_train if bundle.x_test is not None else None,
        eval_emb,
        bundle.y_test,
        k=eval_config.k,
        views_emb=views_emb,
        svm=use_svm(bundle, eval_config),
    )
    return scores, eval_emb


def use_svm(bundle: DataBundle, eval_config: EvalConfig) -> bool:
    """Whether the SVM probe runs: ``eval.svm``, or when unset, the modality's ``svm_probe`` meta."""
    if eval_config.svm is not None:
        return eval_config.svm
    from selfsup.modality import get_modality

    return get_modality(bundle.modality).svm_probe


def evaluate_raw(bundle: DataBundle, eval_config: EvalConfig) -> dict[str, float] | None:
    """The same scores on flattened raw inputs, when the data is a fixed-shape tensor."""
    from selfsup.eval import evaluate_embeddings

    if not isinstance(bundle.x_train, torch.Tensor) or bundle.x_train[0].numel() > MAX_RAW_FEATURES:
        return None
    # NaN marks padding / missing values (variable-length series): a raw feature of 0 there
    train = torch.nan_to_num(bundle.x_train.reshape(bundle.x_train.shape[0], -1).float())
    test = torch.nan_to_num(bundle.x_test.reshape(bundle.x_test.shape[0], -1).float()) if bundle.x_test is not None else train
    y_train = bundle.y_train if bundle.x_test is not None else None
    return evaluate_embeddings(train, y_train, test, bundle.y_test, k=eval_config.k, svm=use_svm(bundle, eval_config))


def evaluate_run_encoder(
    encoder: nn.Module,
    make_random_init: Callable[[], nn.Module],
    bundle: DataBundle,
    views: nn.Module | None,
    eval_config: EvalConfig,
    seed: int,
) -> tuple[dict[str, Any], torch.Tensor]:
    """``{"data", "pretrained", "random_init", "raw_input", "notes"}`` for metrics.json, and the
    pretrained encoder's held-out embeddings (for the report's map)."""
    result: dict[str, Any] = {"data": bundle.describe(), "notes": list(bundle.notes)}
    result["pretrained"], held_out_emb = evaluate_encoder(encoder, bundle, views, eval_config, seed)
    if eval_config.random_init:
        result["random_init"], _ = evaluate_encoder(make_random_init(), bundle, views, eval_config, seed)
    if eval_config.raw_input:
        raw = evaluate_raw(bundle, eval_config)
        if raw is not None:
            result["raw_input"] = raw
    return result, held_out_emb

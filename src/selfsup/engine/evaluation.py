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


def _views_embeddings(encoder: nn.Module, views: nn.Module, x: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of two random views of ``x`` (for the alignment score), with a fixed seed."""
    from selfsup.eval import embed_tensor

    devices = {p.device for p in encoder.parameters()} or {torch.device("cpu")}
    device = next(iter(devices))
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with torch.no_grad():
            v1, v2 = views({"x": x.to(device)}, 2)
        return embed_tensor(encoder, v1["x"], device=device), embed_tensor(encoder, v2["x"], device=device)
    finally:
        torch.random.set_rng_state(state)


def evaluate_encoder(
    encoder: nn.Module, bundle: DataBundle, views: nn.Module | None, eval_config: EvalConfig, seed: int
) -> dict[str, float]:
    """Frozen-embedding scores of one encoder on the bundle's test split (or its train split
    when there is none): kNN and linear accuracy when labeled; RankMe, std, uniformity and —
    given a view maker — alignment always."""
    from selfsup.eval import embed_tensor, evaluate_embeddings

    device = next(encoder.parameters()).device if any(True for _ in encoder.parameters()) else "cpu"
    x_eval = bundle.x_test if bundle.x_test is not None else bundle.x_train
    y_eval = bundle.y_test if bundle.x_test is not None else bundle.y_train
    train_emb = embed_tensor(encoder, bundle.x_train, device=device)
    eval_emb = embed_tensor(encoder, x_eval, device=device)
    views_emb = _views_embeddings(encoder, views, x_eval, seed) if views is not None else None
    return evaluate_embeddings(
        train_emb,
        bundle.y_train if bundle.x_test is not None else None,
        eval_emb,
        y_eval if bundle.x_test is not None else None,
        k=eval_config.k,
        views_emb=views_emb,
    )


def evaluate_raw(bundle: DataBundle, eval_config: EvalConfig) -> dict[str, float] | None:
    """The same scores on flattened raw inputs, when the data is a fixed-shape tensor."""
    from selfsup.eval import evaluate_embeddings

    if not isinstance(bundle.x_train, torch.Tensor) or bundle.x_train[0].numel() > MAX_RAW_FEATURES:
        return None
    flat = lambda x: x.reshape(x.shape[0], -1).float()  # noqa: E731
    if bundle.x_test is None:
        return evaluate_embeddings(flat(bundle.x_train), None, flat(bundle.x_train), None, k=eval_config.k)
    return evaluate_embeddings(
        flat(bundle.x_train), bundle.y_train, flat(bundle.x_test), bundle.y_test, k=eval_config.k
    )


def evaluate_run_encoder(
    encoder: nn.Module,
    make_random_init: Callable[[], nn.Module],
    bundle: DataBundle,
    views: nn.Module | None,
    eval_config: EvalConfig,
    seed: int,
) -> dict[str, Any]:
    """``{"data", "pretrained", "random_init", "raw_input", "notes"}`` for metrics.json."""
    result: dict[str, Any] = {"data": bundle.describe(), "notes": list(bundle.notes)}
    result["pretrained"] = evaluate_encoder(encoder, bundle, views, eval_config, seed)
    if eval_config.random_init:
        result["random_init"] = evaluate_encoder(make_random_init(), bundle, views, eval_config, seed)
    if eval_config.raw_input:
        raw = evaluate_raw(bundle, eval_config)
        if raw is not None:
            result["raw_input"] = raw
    return result

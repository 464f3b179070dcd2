"""The end-of-run evaluation: pretrained vs random-init encoder vs raw inputs.

Everything is embedded through the data source's loader (its collate and its on-device step),
so any modality whose encoder maps ``batch["x"]`` to ``[B, D]`` is evaluated the same way.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from selfsup.config import EvalConfig
from selfsup.data.base import DataSource, EmbeddedSplits

# Raw inputs larger than this many values per sample are not evaluated (kNN on 150k-pixel
# images says little and costs a lot).
MAX_RAW_FEATURES = 65_536
# Samples per draw of the alignment views (a training-sized batch).
VIEWS_BATCH = 64
# Samples per forward pass when embedding.
EMBED_BATCH = 512
# The label-free scores and the alignment views use at most this many held-out samples (a fixed
# random subset): their memory and time then stay bounded however large the data (the probes,
# which need labels, still see every sample).
LABEL_FREE_MAX_SAMPLES = 50_000


def embed_split(encoder: nn.Module, source: DataSource, dataset: Dataset, device: Any = None) -> torch.Tensor:
    """``[N, D]`` embeddings of ``dataset`` (a split of ``source`` or a subset of one)."""
    from selfsup.eval import embed_loader

    return embed_loader(encoder, source.loader(dataset, EMBED_BATCH), source.finish, device)


def _views_embeddings(
    encoder: nn.Module, views: nn.Module, source: DataSource, dataset: Dataset, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of two random views of ``dataset`` (for the alignment score), with a fixed seed.

    The views are drawn batch by batch (``VIEWS_BATCH`` samples), as in training: a view maker
    may draw one parameter per batch (TS2Vec's crop lengths), and a single draw for the whole
    split could be unrepresentative (two full-length crops give an alignment of exactly 0).
    """
    from selfsup.eval import embed_loader, move_to

    device = next((p.device for p in encoder.parameters()), torch.device("cpu"))
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    first, second = [], []
    try:
        for batch in source.loader(dataset, VIEWS_BATCH):
            # the views see what a training batch minus labels and positions would hold
            batch = source.finish(move_to({k: v for k, v in batch.items() if k not in ("y", "index")}, device))
            with torch.no_grad():
                v1, v2 = views(batch, 2)
            first.append(embed_loader(encoder, [v1]))
            second.append(embed_loader(encoder, [v2]))
        return torch.cat(first), torch.cat(second)
    finally:
        torch.random.set_rng_state(state)


def evaluate_encoder(
    encoder: nn.Module, source: DataSource, views: nn.Module | None, eval_config: EvalConfig, seed: int,
    svm: bool = False,
) -> tuple[dict[str, float], torch.Tensor]:
    """Frozen-embedding scores of one encoder on the source's held-out split: kNN and linear
    accuracy when there is a labeled test split; RankMe, std, uniformity and — given a view
    maker — alignment always. Also returns the held-out embeddings ``[N, D]``."""
    from selfsup.eval import evaluate_embeddings

    held_out, _ = source.held_out
    train_set, y_train, protocol = probe_train_split(source, eval_config.max_train_samples, seed)
    train_emb = embed_split(encoder, source, train_set)
    # Without a test split the train split is the held-out one: embed it once.
    eval_emb = embed_split(encoder, source, held_out) if source.test is not None else train_emb
    scored, scored_emb = held_out, None
    if len(held_out) > LABEL_FREE_MAX_SAMPLES:
        keep = torch.randperm(len(held_out), generator=torch.Generator().manual_seed(seed))[:LABEL_FREE_MAX_SAMPLES]
        keep = keep.sort().values
        scored, scored_emb = Subset(held_out, keep.tolist()), eval_emb[keep]
    views_emb = _views_embeddings(encoder, views, source, scored, seed) if views is not None else None
    scores = evaluate_embeddings(
        train_emb,
        y_train if source.test is not None else None,
        eval_emb,
        source.y_test,
        k=eval_config.k,
        views_emb=views_emb,
        svm=svm,
        label_free_emb=scored_emb,
        svm_cv_samples=eval_config.svm_cv_samples,
        linear_max_samples=eval_config.linear_max_samples,
    )
    scores.update(_protocol_scores(protocol, train_emb, y_train, eval_emb, source))
    # what the data set itself defines (verse retrieval, paired data's cross-modal retrieval)
    # (a source written before the hook took ``embedded`` overrides it with the encoder alone)
    if "embedded" in inspect.signature(source.label_free_scores).parameters:
        scores.update(source.label_free_scores(encoder, embedded=EmbeddedSplits(train_set, y_train, train_emb, eval_emb)))
    else:
        scores.update(source.label_free_scores(encoder))
    return scores, eval_emb


def probe_train_split(source: DataSource, cap: int, seed: int) -> tuple[Dataset, torch.Tensor | None, Any]:
    """The training samples the probes fit on: the whole train split, or — when it holds more than
    ``cap`` samples and there is a test split — a seeded random subset of ``cap`` of them that
    keeps every sample the source's protocol names (a graph's Planetoid training and validation
    nodes). Returns the dataset, its labels and the protocol with positions into the subset."""
    n = len(source.train)
    if source.test is None or n <= cap:
        return source.train, source.y_train, source.protocol
    keep = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:cap]
    protocol = source.protocol
    named = [p for p in (getattr(protocol, "train", None), getattr(protocol, "val", None)) if p is not None]
    keep = torch.unique(torch.cat([keep] + [torch.as_tensor(p, dtype=torch.long) for p in named]))  # sorted
    if named:
        positions = keep.numpy()
        protocol = replace(protocol, train=np.searchsorted(positions, protocol.train),
                           val=None if protocol.val is None else np.searchsorted(positions, protocol.val))
    y_train = None if source.y_train is None else source.y_train[keep]
    return Subset(source.train, keep.tolist()), y_train, protocol


def _protocol_scores(protocol: Any, train: torch.Tensor, y_train: torch.Tensor | None, test: torch.Tensor,
                     source: DataSource) -> dict[str, float]:
    """The source's own evaluation protocol (when it has one and both splits are labelled)."""
    if protocol is None or source.test is None or y_train is None or source.y_test is None:
        return {}
    from selfsup.errors import SelfsupError
    from selfsup.eval.protocols import protocol_scores

    try:
        return protocol_scores(protocol, train, y_train, test, source.y_test)
    except SelfsupError as error:  # too few samples for it: the default probes still stand
        warnings.warn(f"The evaluation protocol was skipped: {error}", stacklevel=2)
        return {}


def raw_features(source: DataSource, dataset: Dataset) -> torch.Tensor | None:
    """Flattened raw inputs ``[N, F]`` of ``dataset`` when its batches hold a fixed-shape tensor
    ``x`` of at most ``MAX_RAW_FEATURES`` values per sample (NaN padding becomes 0), or an ``x``
    that says what its raw features are (``x.raw_features() -> [B, F]``: a graph batch gives its
    nodes' features); else None."""
    chunks = []
    for batch in source.loader(dataset, EMBED_BATCH):
        x = source.finish(batch)["x"]
        if hasattr(x, "raw_features"):
            x = x.raw_features()
        if not isinstance(x, torch.Tensor) or x[0].numel() > MAX_RAW_FEATURES:
            return None
        chunks.append(torch.nan_to_num(x.reshape(x.shape[0], -1).float()))
    return torch.cat(chunks) if chunks else None


def evaluate_raw(source: DataSource, eval_config: EvalConfig, svm: bool = False,
                 seed: int = 0) -> dict[str, float] | None:
    """The same scores on flattened raw inputs, when the data is a fixed-shape tensor."""
    from selfsup.eval import evaluate_embeddings

    train_set, y_train, protocol = probe_train_split(source, eval_config.max_train_samples, seed)
    train = raw_features(source, train_set)
    if train is None:
        return None
    test = raw_features(source, source.test) if source.test is not None else train
    scores = evaluate_embeddings(train, y_train if source.test is not None else None, test, source.y_test,
                                 k=eval_config.k, svm=svm, svm_cv_samples=eval_config.svm_cv_samples,
                                 linear_max_samples=eval_config.linear_max_samples)
    scores.update(_protocol_scores(protocol, train, y_train, test, source))
    return scores


def evaluate_run_encoder(
    encoder: nn.Module,
    make_random_init: Callable[[], nn.Module],
    source: DataSource,
    views: nn.Module | None,
    eval_config: EvalConfig,
    seed: int,
    svm: bool = False,
) -> tuple[dict[str, Any], torch.Tensor]:
    """``{"data", "pretrained", "random_init", "raw_input", "notes"}`` for metrics.json, and the
    pretrained encoder's held-out embeddings (for the report's map). ``svm`` adds the RBF-SVM
    probe (the caller decides: ``eval.svm``, else the modality's protocol)."""
    result: dict[str, Any] = {"data": source.describe(), "notes": list(source.notes)}
    if source.protocol is not None and source.labeled and source.test is not None:
        result["notes"].append(source.protocol.describe())
    if source.labeled and source.test is not None and source.n_train > eval_config.max_train_samples:
        result["notes"].append(
            f"The probes fit on a seeded random {eval_config.max_train_samples:,} of the {source.n_train:,} "
            "training samples (eval.max_train_samples).")
    fitted = min(source.n_train, eval_config.max_train_samples)
    if source.labeled and source.test is not None and fitted > eval_config.linear_max_samples:
        result["notes"].append(
            f"The linear probe fitted on a seeded stratified {eval_config.linear_max_samples:,} of the {fitted:,} "
            "training samples the probes use (eval.linear_max_samples); kNN used all of them.")
    if svm and source.labeled and source.test is not None and source.n_train > eval_config.svm_cv_samples:
        result["notes"].append(
            f"The SVM probe chose its C by cross-validation on a seeded stratified {eval_config.svm_cv_samples:,} "
            "of the training samples, then fitted it on all of them (eval.svm_cv_samples; TS2Vec's paper "
            "cross-validates on up to 10,000).")
    result["pretrained"], held_out_emb = evaluate_encoder(encoder, source, views, eval_config, seed, svm)
    if eval_config.random_init:
        result["random_init"], _ = evaluate_encoder(make_random_init(), source, views, eval_config, seed, svm)
    if eval_config.raw_input:
        raw = evaluate_raw(source, eval_config, svm, seed)
        if raw is not None:
            result["raw_input"] = raw
    return result, held_out_emb


def evaluate_next_item(method: nn.Module, source: DataSource, k: int = 10) -> dict[str, Any] | None:
    """Leave-one-out next-item ranking (:mod:`selfsup.eval.next_item`): HR@k and NDCG@k of
    ``method.next_item_scores(batch) -> [B, num_items]`` over the held-out items the source
    carries (``source.next_item``, a :class:`~selfsup.eval.next_item.NextItemTargets`), next to the
    popularity baseline. None when the source holds no next-item task or the method scores no
    items; a method whose ``item_field`` is another field than the source's is not scored (said in
    the notes). Usable on any trained method and source, e.g. a finished run's encoder wrapped in
    its method again.

    ``hr@k`` / ``ndcg@k`` are over the entities of the train split (their earlier events trained
    on, their last one never: SASRec's protocol); ``test_entities`` over those of the test split,
    whose histories the model never saw. ``left_out`` counts the entities without a held-out
    event."""
    from selfsup.eval import move_to
    from selfsup.eval.next_item import popularity_ranks, ranking_scores, target_ranks

    task = getattr(source, "next_item", None)
    if task is None or not hasattr(method, "next_item_scores"):
        return None
    predicts = getattr(method, "item_field", None)
    if predicts is not None and predicts != task.field:
        return {"notes": [(f"Next-item metrics were not computed: the method predicts {predicts!r}, the data holds "
                           f"out {task.field!r} (set the method's item_field to {task.field!r}).")]}
    # where its encoder is (the final evaluation has moved that to the CPU), heads included
    device = next((p.device for p in getattr(method, "encoder", method).parameters()), torch.device("cpu"))
    method.to(device)
    was_training = method.training
    method.eval()

    def ranks(dataset: Dataset, targets: torch.Tensor, evaluated: torch.Tensor) -> torch.Tensor:
        wanted = targets[evaluated]  # the in-order loader yields the kept samples in this order
        chunks, done = [], 0
        with torch.no_grad():
            for batch in source.loader(Subset(dataset, torch.nonzero(evaluated).flatten().tolist()), EMBED_BATCH):
                batch = source.finish(move_to({key: value for key, value in batch.items() if key != "y"}, device))
                item_scores = method.next_item_scores(batch).float().cpu()
                chunks.append(target_ranks(item_scores, wanted[done:done + len(item_scores)]))
                done += len(item_scores)
        return torch.cat(chunks) if chunks else torch.zeros(0, dtype=torch.long)

    def scores(dataset: Dataset, targets: torch.Tensor, evaluated: torch.Tensor) -> dict[str, Any]:
        model = ranking_scores(ranks(dataset, targets, evaluated), k)
        popularity = ranking_scores(popularity_ranks(task.counts, targets[evaluated]), k)
        return {**model, "entities": int(evaluated.sum()), "popularity": popularity}

    try:
        result: dict[str, Any] = {"field": task.field, "num_items": task.num_items, "k": k,
                                  **scores(source.train, task.train, task.train_evaluated)}
        if source.test is not None and task.test is not None:
            result["test_entities"] = scores(source.test, task.test, task.test_evaluated)
    finally:
        method.train(was_training)
    left_out = int((~task.train_evaluated).sum()) + (int((~task.test_evaluated).sum()) if task.test is not None else 0)
    result["left_out"] = left_out
    return result

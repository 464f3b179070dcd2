"""Evaluation of paired runs (the scores a :class:`PairedSource` adds to every evaluated encoder):

- cross-modal retrieval for every ordered pair of parts, in the encoder's joint space: exact-pair
  Recall@1/5/10 and median rank of the partner among the held-out samples (chance: R@1 = 1/N), and,
  where there are labels, class-level precision@1 (the nearest sample of the other part has the
  query's class; chance: the share of the largest class, about 1/K);
- each part's encoder alone: a linear probe on its pooled embedding (``part_<m>_linear_acc``);
- the fused embedding (every part's, concatenated) with one part missing at test time: the probe
  fitted on complete samples, tested with that part's embedding zeroed (``fused_without_<m>_linear_acc``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from selfsup.eval.linear import linear_probe
from selfsup.eval.retrieval import partner_ranks
from selfsup.eval.suite import move_to

#: held-out pairs retrieval ranks among (a seeded subset when there are more)
RETRIEVAL_MAX = 5000
#: training samples the per-part probes fit on at most
PROBE_MAX_TRAIN = 10_000


@torch.no_grad()
def embed_parts(encoder: Any, source: Any, dataset: Any, batch_size: int = 512) -> dict[str, Any]:
    """``{"h": {part: [N, D_m]}, "z": {part: [N, joint]}, "present": {part: [N] bool}}`` of ``dataset``."""
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    out: dict[str, dict[str, list[torch.Tensor]]] = {"h": {}, "z": {}, "present": {}}
    try:
        for batch in source.loader(dataset, batch_size):
            x = source.finish(move_to(batch, device))["x"]
            h = encoder.encode(x)
            z = encoder.project(h)
            for name in h:
                out["h"].setdefault(name, []).append(h[name].float().cpu())
                out["z"].setdefault(name, []).append(z[name].float().cpu())
                out["present"].setdefault(name, []).append(x[name]["present"].cpu())
    finally:
        encoder.train(was_training)
    return {kind: {name: torch.cat(values) for name, values in parts.items()} for kind, parts in out.items()}


def retrieval_scores(z: dict[str, torch.Tensor], present: dict[str, torch.Tensor], y: torch.Tensor | None,
                     seed: int = 0) -> dict[str, float]:
    """Cross-modal retrieval for every ordered pair of parts (module doc)."""
    scores: dict[str, float] = {}
    names = list(z)
    for a in names:
        for b in names:
            if a == b:
                continue
            both = torch.nonzero(present[a] & present[b]).flatten()
            if len(both) > RETRIEVAL_MAX:
                chosen = torch.randperm(len(both), generator=torch.Generator().manual_seed(seed))[:RETRIEVAL_MAX]
                both = both[chosen.sort().values]
            if len(both) < 2:
                continue
            queries, keys = z[a][both], z[b][both]
            ranks = partner_ranks(queries, keys)
            key = f"retrieval_{a}_to_{b}"
            for k in (1, 5, 10):
                scores[f"{key}_r@{k}"] = float((ranks < k).double().mean())
            scores[f"{key}_median_rank"] = float(ranks.double().median()) + 1.0
            if y is not None:
                similarity = torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(keys, dim=1).T
                nearest = similarity.argmax(1)
                labels = y[both]
                scores[f"{key}_class_p@1"] = float((labels[nearest] == labels).double().mean())
    return scores


def _fused(h: dict[str, torch.Tensor], present: dict[str, torch.Tensor], drop: str | None = None) -> np.ndarray:
    parts = [torch.zeros_like(v) if name == drop else v * present[name][:, None].to(v.dtype) for name, v in h.items()]
    return torch.cat(parts, dim=1).numpy()


@torch.no_grad()
def parts_from_fused(encoder: Any, source: Any, dataset: Any, fused: torch.Tensor) -> dict[str, Any]:
    """What :func:`embed_parts` gives, from the fused embeddings ``[N, sum D_m]`` evaluation already
    computed for ``dataset``: each part's embedding is its slice of them, its joint embedding that
    slice through the part's projection, its presence the pairs' rows."""
    pairs = source.pairs_of(dataset)
    device = next(encoder.parameters()).device
    out: dict[str, dict[str, torch.Tensor]] = {"h": {}, "z": {}, "present": {}}
    offset = 0
    for name, part in encoder.parts.items():
        width = int(part.output_dim)
        h = fused[:, offset: offset + width].float()
        offset += width
        out["h"][name] = h
        out["z"][name] = encoder.projections[name](h.to(device)).float().cpu()
        out["present"][name] = torch.from_numpy(source.rows[name][pairs] >= 0)
    return out


def paired_scores(encoder: Any, source: Any, seed: int = 0, embedded: Any = None) -> dict[str, float]:
    """Every score of the module doc for ``encoder`` (a paired encoder) on ``source``'s held-out split;
    ``embedded`` (:class:`~selfsup.data.base.EmbeddedSplits`): the fused embeddings evaluation
    computed, reused instead of embedding the splits again."""
    if not (hasattr(encoder, "encode") and hasattr(encoder, "project")):
        return {}
    held_out, y_test = source.held_out
    reuse = embedded is not None and hasattr(encoder, "projections")
    test = parts_from_fused(encoder, source, held_out, embedded.held_out) if reuse else embed_parts(encoder, source, held_out)
    scores = retrieval_scores(test["z"], test["present"], y_test, seed)
    if source.test is None or source.y_train is None or y_test is None:
        return scores
    if reuse and embedded.y_train is not None:
        train_set, y_train = embedded.train_set, embedded.y_train
        train = parts_from_fused(encoder, source, train_set, embedded.train)
    else:
        train_set, y_train = source.train, source.y_train
        if len(train_set) > PROBE_MAX_TRAIN:
            keep = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(seed))[:PROBE_MAX_TRAIN]
            keep = keep.sort().values
            train_set, y_train = torch.utils.data.Subset(train_set, keep.tolist()), y_train[keep]
        train = embed_parts(encoder, source, train_set)
    for name in train["h"]:
        fit, scored = train["present"][name], test["present"][name]
        if fit.sum() >= 2 and scored.sum() >= 1:
            scores[f"part_{name}_linear_acc"] = linear_probe(
                train["h"][name][fit], y_train[fit], test["h"][name][scored], y_test[scored], seed=seed)["accuracy"]
    complete = torch.stack(list(train["present"].values())).all(0)
    if complete.sum() >= 2:
        fused_train = _fused(train["h"], train["present"])[complete.numpy()]
        for name in test["h"]:
            scores[f"fused_without_{name}_linear_acc"] = linear_probe(
                fused_train, y_train[complete], _fused(test["h"], test["present"], drop=name), y_test, seed=seed)["accuracy"]
    return scores


#: held-out pairs the joint map shows (each part's point of each)
MAP_SAMPLES = 1000


def report_extras(encoder: Any, source: Any, seed: int = 0, examples: int = 4, k: int = 3
                  ) -> tuple[list[Any], list[tuple[str, list[str]]]]:
    """The report's joint map (every part's joint embedding of the same held-out samples, one colour
    per part: aligned parts overlap) and retrieval examples (for a few held-out samples of each part,
    the ``k`` nearest samples of the next part in the joint space, with their labels)."""
    from selfsup.eval.plots import EmbeddingMap

    if not (hasattr(encoder, "encode") and hasattr(encoder, "project")):
        return [], []
    held_out, y = source.held_out
    n = len(held_out)
    chosen = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:MAP_SAMPLES].sort().values
    made = embed_parts(encoder, source, torch.utils.data.Subset(held_out, chosen.tolist()))
    names = list(made["z"])
    z = {name: torch.nn.functional.normalize(made["z"][name], dim=1) for name in names}
    present = made["present"]
    points = torch.cat([z[name][present[name]] for name in names])
    colours = torch.cat([torch.full((int(present[name].sum()),), i) for i, name in enumerate(names)])
    joint = EmbeddingMap(points, colours, names, title="Joint space, one colour per part",
                         what="every part's joint embedding of the same held-out samples (aligned parts overlap)")
    labels = None if y is None else y[chosen]
    class_names = source.class_names

    def render(name: str, i: int) -> str:
        label = "" if labels is None else f" [{class_names[int(labels[i])] if class_names else int(labels[i])}]"
        return f"{name} of held-out sample {int(chosen[i])}{label}"

    rows: list[tuple[str, list[str]]] = []
    for a, b in zip(names, names[1:] + names[:1]):
        queries = torch.nonzero(present[a]).flatten()
        queries = queries[torch.randperm(len(queries), generator=torch.Generator().manual_seed(seed))[:examples]]
        keys = torch.nonzero(present[b]).flatten()
        if not len(queries) or not len(keys):
            continue
        nearest = (z[a][queries] @ z[b][keys].T).topk(min(k, len(keys)), dim=1).indices
        rows += [(render(a, int(q)) + f" -> nearest {b}", [render(b, int(keys[j])) for j in row])
                 for q, row in zip(queries, nearest.tolist())]
    return [joint], rows

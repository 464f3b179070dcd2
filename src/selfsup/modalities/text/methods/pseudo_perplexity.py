"""Pseudo-perplexity of a masked language model (Salazar, Liang, Nguyen, Kirchhoff 2020, "Masked
Language Model Scoring", Section 2)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from selfsup.modalities.text.data.batch import MASK, TextBatch

#: ``log_probs(masked x of M texts, positions [M]) -> [M, V]``: the model's log-distribution at
#: ``positions[m]`` of text ``m``
Predictor = Callable[[TextBatch, torch.Tensor], torch.Tensor]


@torch.no_grad()
def pseudo_log_likelihoods(x: TextBatch, log_probs: Predictor, copies: int = 256) -> tuple[float, int]:
    r"""Sum of :math:`\log P(w_t \mid W_{\setminus t})` over every regular token of ``x`` and
    their count: each token is masked in turn, one masked copy of its text per token, ``copies``
    copies per forward pass.

    Args:
        x: the texts.
        log_probs: ``log_probs(masked, positions [M]) -> [M, V]``, the model's log-distribution at
            ``positions`` of the ``M`` texts of ``masked`` (one masked position per text).
        copies: masked copies per forward pass.
    """
    rows, cols = x.regular.nonzero(as_tuple=True)
    total = 0.0
    for start in range(0, len(rows), copies):
        r, c = rows[start : start + copies], cols[start : start + copies]
        ids = x.ids[r].clone()
        picked = torch.arange(len(r), device=ids.device)
        ids[picked, c] = MASK
        masked = TextBatch(ids, x.lengths[r])
        scores = log_probs(masked, c)  # [M, V]
        total += float(scores[picked, x.ids[r, c]].double().sum())
    return total, len(rows)


def pseudo_perplexity(model: torch.nn.Module, log_probs: Predictor, source: Any, max_texts: int = 200,
                      batch_texts: int = 32, copies: int = 256, seed: int = 0) -> dict[str, float]:
    r"""``{"pseudo_perplexity": PPPL}`` on a seeded subset of at most ``max_texts`` texts of the
    test split (``source.test``; ``{}`` when there is none):

    .. math::
        \mathrm{PPPL}(\mathbb W) = \exp\Big(-\frac{1}{N} \sum_{W \in \mathbb W} \sum_{t=1}^{|W|}
            \log P_{\mathrm{MLM}}(w_t \mid W_{\setminus t})\Big)

    over the :math:`N` regular tokens of the subset (special tokens are not scored). A model that
    predicts the uniform distribution scores the vocabulary size. ``model`` is put in eval mode
    for the scoring and back as it was.
    """
    test = getattr(source, "test", None)
    if test is None or len(test) == 0:
        return {}
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(test), generator=generator)[:max_texts].sort().values.tolist()
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        total, tokens = 0.0, 0
        for start in range(0, len(chosen), batch_texts):
            x = test.__getitems__(chosen[start : start + batch_texts])["x"].to(device)
            part, n = pseudo_log_likelihoods(x, log_probs, copies)
            total, tokens = total + part, tokens + n
    finally:
        model.train(was_training)
    if tokens == 0:
        return {}
    return {"pseudo_perplexity": math.exp(-total / tokens)}

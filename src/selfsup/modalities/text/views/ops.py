"""Batched text augmentations on :class:`TextBatch`: every op draws its random parameters per text
on the batch's device and runs on the whole batch at once (no loop over texts).

Two kinds of positions (``x [B, L]``):

* *content*: the positions between ``[CLS]`` and ``[SEP]`` (``[UNK]`` included): what crops,
  deletions of spans and reordering move;
* *regular* (``TextBatch.regular``): content whose id is a vocabulary token (not ``[UNK]``): what
  masking replaces and deletion removes. Special ids are never produced except ``[MASK]``.

Every op returns a batch in the contract's layout (``[CLS] … [SEP]`` then ``[PAD]``); ops that
shorten texts keep the width ``L`` (so per-text choices can be merged with ``torch.where``) and
:func:`trim` cuts the common padding.
"""

from __future__ import annotations

import torch

from selfsup.modalities.text.data.batch import CLS, MASK, PAD, SEP, TextBatch, TextSpec

#: ``labels`` value of a position the MLM loss ignores (PyTorch's ``cross_entropy`` default)
IGNORE = -100


def positions(x: TextBatch) -> torch.Tensor:
    """``[1, L]`` position indices."""
    return torch.arange(x.max_length, device=x.device)[None, :]


def content(x: TextBatch) -> torch.Tensor:
    """``[B, L]`` bool: the positions between ``[CLS]`` and ``[SEP]``."""
    j = positions(x)
    return (j > 0) & (j < x.lengths[:, None] - 1)


def trim(x: TextBatch) -> TextBatch:
    """``x`` without the padding columns every text has."""
    width = max(int(x.lengths.max()), 1) if len(x) else x.max_length
    return x if width == x.max_length else x.replace(ids=x.ids[:, :width])


def random_regular_ids(shape: torch.Size | tuple[int, ...], vocab_size: int, device: torch.device) -> torch.Tensor:
    """Uniform vocabulary ids (never special) of ``shape``."""
    return torch.randint(TextSpec.first_regular_id, vocab_size, shape, device=device)


def bert_mask(x: TextBatch, vocab_size: int, prob: float = 0.15, mask_frac: float = 0.8,
              random_frac: float = 0.1) -> tuple[TextBatch, torch.Tensor]:
    """BERT's masking (Devlin et al. 2019, Section 3.1 / Appendix A.1).

    Each regular token is selected with probability ``prob``; a selected token becomes
    ``[MASK]`` with probability ``mask_frac``, a uniform random vocabulary token with
    ``random_frac``, and stays itself otherwise (80/10/10). A text with regular tokens of which
    none was drawn gets one selected at random, so that every text teaches something and a batch of
    short texts never has an empty loss (this raises the rate of very short texts above ``prob``).

    Returns:
        ``(masked x, labels [B, L])``: ``labels`` holds the original id at the selected positions
        and :data:`IGNORE` elsewhere.
    """
    regular = x.regular
    scores = torch.rand(x.ids.shape, device=x.device)
    selected = regular & (scores < prob)
    # the text's regular token with the lowest score is the one forced in when none was drawn
    lowest = scores.masked_fill(~regular, 2.0).argmin(dim=1, keepdim=True)
    none_drawn = ~selected.any(dim=1, keepdim=True) & regular.any(dim=1, keepdim=True)
    selected |= none_drawn & (positions(x) == lowest)
    action = torch.rand(x.ids.shape, device=x.device)
    to_mask = selected & (action < mask_frac)
    to_random = selected & (action >= mask_frac) & (action < mask_frac + random_frac)
    ids = torch.where(to_mask, torch.full_like(x.ids, MASK), x.ids)
    ids = torch.where(to_random, random_regular_ids(x.ids.shape, vocab_size, x.device), ids)
    labels = torch.where(selected, x.ids, torch.full_like(x.ids, IGNORE))
    return x.replace(ids=ids), labels


def span_mask(x: TextBatch, prob: float = 0.15, geometric_p: float = 0.2, max_span: int = 10,
              replacement: int = MASK) -> tuple[TextBatch, torch.Tensor]:
    """SpanBERT's span masking (Joshi et al. 2020, Section 3.1): spans whose lengths follow a
    geometric distribution :math:`\\ell \\sim \\mathrm{Geo}(p)` clipped at ``max_span`` (SpanBERT:
    p = 0.2, at most 10, mean 3.8) cover about ``prob`` of the regular tokens.

    Vectorised: each regular position starts a span with probability ``prob / E[ℓ]``; a position
    is covered when some start ``i ≤ j`` has ``i + ℓ_i > j`` (a running maximum of span ends).
    Overlaps make the rate slightly below ``prob``. Covered regular tokens become
    ``replacement``. Returns ``(masked x, covered [B, L])``.
    """
    regular = x.regular
    lengths = torch.arange(1, max_span + 1, dtype=torch.float, device=x.device)
    weights = geometric_p * (1 - geometric_p) ** (lengths - 1)
    mean_span = float((weights * lengths).sum() / weights.sum())
    starts = regular & (torch.rand(x.ids.shape, device=x.device) < prob / mean_span)
    span = torch.multinomial(weights, x.ids.numel(), replacement=True).view_as(x.ids) + 1
    ends = torch.where(starts, positions(x) + span, torch.zeros_like(span))
    covered = (ends.cummax(dim=1).values > positions(x)) & regular
    return x.replace(ids=x.ids.masked_fill(covered, replacement)), covered


def mask_one_span(x: TextBatch, span: int = 5, replacement: int = MASK) -> tuple[TextBatch, torch.Tensor]:
    """One span of ``span`` consecutive content tokens per text, at a uniform start, replaced by
    ``replacement`` (Mirror-BERT's random span masking, Liu et al. 2021, Section 2). A text of
    ``n`` content tokens gets a span of ``min(span, n - 1)``: at least one token stays visible.
    Returns ``(masked x, covered [B, L])``."""
    n = (x.lengths - 2).clamp_min(0)
    width = torch.minimum(torch.full_like(n, span), (n - 1).clamp_min(0))
    start = 1 + (torch.rand(n.shape, device=x.device) * (n - width + 1)).long()
    j = positions(x)
    covered = (j >= start[:, None]) & (j < (start + width)[:, None])
    return x.replace(ids=x.ids.masked_fill(covered, replacement)), covered


def compact(x: TextBatch, keep: torch.Tensor) -> TextBatch:
    """The texts of ``x`` with only the ``keep [B, L]`` positions, in order, left-aligned (the
    width stays ``L``)."""
    # a stable sort puts the kept positions first, in their order
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices
    lengths = keep.sum(dim=1)
    ids = x.ids.gather(1, order).masked_fill(positions(x) >= lengths[:, None], PAD)
    return TextBatch(ids, lengths)


def delete_tokens(x: TextBatch, prob: float = 0.1) -> TextBatch:
    """Each regular token deleted with probability ``prob`` (CLEAR's word deletion, Wu et al.
    2020); a text that would lose all its regular tokens is left whole."""
    regular = x.regular
    deleted = regular & (torch.rand(x.ids.shape, device=x.device) < prob)
    emptied = (regular & ~deleted).sum(dim=1, keepdim=True) == 0
    deleted &= ~emptied
    return compact(x, x.mask & ~deleted)


def window(x: TextBatch, start: torch.Tensor, length: torch.Tensor) -> TextBatch:
    """Content tokens ``start .. start + length - 1`` of each text (``start [B]``, ``length [B]``,
    counted from the first content token), between a new ``[CLS]`` and ``[SEP]``. The width
    stays ``L``."""
    j = positions(x)
    source = (start[:, None] + j).clamp(max=x.max_length - 1)  # output j >= 1 reads content j - 1 + start
    ids = x.ids.gather(1, source)
    ids = torch.where(j <= length[:, None], ids, torch.full_like(ids, PAD))
    ids = ids.masked_fill(j == 0, CLS).masked_fill(j == length[:, None] + 1, SEP)
    return TextBatch(ids, length + 2)


def crop(x: TextBatch, scale: tuple[float, float] = (0.6, 1.0)) -> TextBatch:
    """A random contiguous window of each text's content, ``ceil(s n)`` tokens with
    :math:`s \\sim U(\\mathrm{scale})` at a uniform start (at least one token when the text has
    any), wrapped in ``[CLS]`` / ``[SEP]``."""
    n = (x.lengths - 2).clamp_min(0)
    low, high = scale
    s = low + (high - low) * torch.rand(n.shape, device=x.device)
    length = torch.minimum(torch.ceil(s * n).long().clamp_min(1), n)
    start = (torch.rand(n.shape, device=x.device) * (n - length + 1)).long()
    return window(x, start, length)


def local_shuffle(x: TextBatch, distance: float = 3.0) -> TextBatch:
    """Word reordering by a local shuffle (Lample et al. 2018, "Unsupervised Machine Translation
    Using Monolingual Corpora Only", Section 2.3): content position ``j`` is sorted by
    ``j + U(0, distance)``, so no token moves more than ``distance - 1`` places (their k = 3).
    Tokens here are subwords, so a word's pieces can move apart."""
    j = positions(x).to(torch.float).expand(len(x), -1)
    inner = content(x)
    keys = torch.where(inner, j + distance * torch.rand(x.ids.shape, device=x.device), j)
    # [CLS] first, [SEP] and padding after all content, each in place
    keys = keys.masked_fill(j == 0, -1.0)
    keys = torch.where(inner | (j == 0), keys, j + x.max_length + distance)
    return x.replace(ids=x.ids.gather(1, keys.argsort(dim=1)))


def choose(apply: torch.Tensor, changed: TextBatch, original: TextBatch) -> TextBatch:
    """Per text: ``changed`` where ``apply [B]`` is True, else ``original`` (same width)."""
    return TextBatch(torch.where(apply[:, None], changed.ids, original.ids),
                     torch.where(apply, changed.lengths, original.lengths))

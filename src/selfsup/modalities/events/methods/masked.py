"""Masked event modelling: hide some events of each sequence and predict every field of them back
from the encoder's outputs at their positions (BERT's masked language model over events)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.methods.base import Method
from selfsup.modalities.events.data.batch import EventBatch
from selfsup.modalities.events.encoders.steps import check_step_encoder, event_fields
from selfsup.modalities.events.losses.masked import masked_event_loss
from selfsup.modalities.tabular.views.corruption import check_rate
from selfsup.registry import METHODS


def select_events(x: EventBatch, rate: float) -> torch.Tensor:
    """``[B, L]`` bool: exactly ``max(1, round(rate * T))`` of the ``T`` events of each non-empty
    sequence, uniformly at random (as BERT's released data preparation chooses
    ``max(1, round(0.15 n))`` of a sequence's ``n`` tokens); nothing on the padding."""
    scores = torch.rand(x.delta.shape, device=x.device).masked_fill(~x.mask, 2.0)
    ranks = scores.argsort(dim=1).argsort(dim=1)
    count = torch.clamp(torch.round(rate * x.lengths), min=1)
    return (ranks < count[:, None]) & x.mask


def corrupt_events(x: EventBatch, selected: torch.Tensor, mask_share: float, random_share: float) -> EventBatch:
    """``x`` with its ``selected [B, L]`` events corrupted as BERT corrupts its chosen tokens
    (Section 3.1): each becomes the mask with probability ``mask_share`` (the unknown slot of every
    categorical field, numeric values and time delta 0), an event drawn uniformly from the batch's
    events with probability ``random_share``, and stays as it is otherwise."""
    draw = torch.rand(selected.shape, device=x.device)
    masked = selected & (draw < mask_share)
    replaced = selected & (draw >= mask_share) & (draw < mask_share + random_share)
    categorical, numeric, delta = x.categorical, x.numeric, x.delta
    if bool(replaced.any()):
        events = x.mask.flatten().nonzero().squeeze(1)  # every event of the batch, [B * L] indices
        source = events[torch.randint(len(events), selected.shape, device=x.device)]
        categorical = torch.where(replaced[..., None], categorical.flatten(0, 1)[source], categorical)
        numeric = torch.where(replaced[..., None], numeric.flatten(0, 1)[source], numeric)
        delta = torch.where(replaced, delta.flatten()[source], delta)
    positions = torch.arange(x.max_length, device=x.device).expand(len(x), -1)
    return EventBatch(categorical, numeric, delta, x.lengths, x.cardinalities).steps(positions, x.lengths, masked)


def random_windows(x: EventBatch, width: int) -> EventBatch:
    """Each sequence longer than ``width`` events cut to ``width`` consecutive ones at a uniformly
    random start (shorter ones kept whole): self-attention's memory grows with the square of the
    length, and a few long histories would set it for the whole batch."""
    lengths = x.lengths.clamp(max=width)
    room = (x.lengths - lengths).to(torch.float32)
    start = torch.floor(torch.rand(len(x), device=x.device) * (room + 1)).long()
    return x.steps(start[:, None] + torch.arange(width, device=x.device), lengths)


@METHODS.register(
    "masked_events",
    family="masked modelling",
    paper="Devlin et al. 2019, BERT (masked LM); over events as Padhi et al. 2021, TabBERT",
    modality="events",
    default_encoder="event_transformer",
    # the masking is the method's own corruption; no other augmentation
    default_views="none",
)
class MaskedEvents(Method):
    r"""Masked event modelling: BERT's masked language model (Devlin, Chang, Lee, Toutanova 2019,
    Section 3.1) with events as tokens, as in the transformers pretrained on transaction and
    health-record sequences (TabBERT, Padhi et al. 2021, "Tabular Transformers for Modeling
    Multivariate Time Series"; BEHRT, Li et al. 2020).

    A share ``mask_rate`` of each sequence's events is chosen (:func:`select_events`) and
    corrupted as BERT corrupts tokens (:func:`corrupt_events`: mostly replaced by the unknown
    slot, the events analogue of ``[MASK]``); a bidirectional encoder reads the corrupted sequence
    (``encoder.forward_steps`` ``[B, L, D]``), and a head on each chosen position's output predicts
    the original event: one classifier per categorical field (cross-entropy; unknown targets
    ignored) and one regression of the numeric fields and the time delta (squared error). The
    loss (:func:`~selfsup.modalities.events.losses.masked.masked_event_loss`) is the mean of the
    per-field terms:

    .. math::
        \mathcal{L} = \frac{1}{F_c + F_n + 1} \Big( \sum_{f=1}^{F_c} \mathrm{CE}_f
            + \sum_{g=1}^{F_n + 1} \mathrm{MSE}_g \Big)

    The head is BERT's (a dense layer, GELU and LayerNorm, then one output layer per field;
    BERT ties its output layer to the input embeddings, which the different widths here do not
    allow). ``embed`` is the encoder's pooled output of the uncorrupted sequence (for
    ``event_transformer``: the mean over the events).

    Args:
        encoder: an event encoder with the step contract (default ``event_transformer``,
            bidirectional; a causal one trains too but sees only the past of a masked event).
        views: view maker; ``none`` by default (the masking is the only corruption).
        mask_rate: share of each sequence's events to predict (at least one per sequence).
        mask_share / random_share: of the chosen events, the share replaced by the mask and by a
            random event of the batch; the rest are left as they are (and still predicted).
        max_events: in training, a sequence longer than this is cut to a random window of this many
            consecutive events (BERT4Rec, Sun et al. 2019, trains on the last 200 items of a
            MovieLens-1M history; here the window moves). None: whole sequences. Embeddings are
            always of the whole sequence.

    Paper defaults vs. library defaults:
        * BERT: 15 % of the tokens chosen, of them 80 % ``[MASK]``, 10 % a random token, 10 %
          unchanged (Section 3.1 and Appendix C.2). Library: the same, per event.
        * TabBERT: the fields of a transaction are tokens of their own (a field-level transformer
          under the sequence-level one) and numeric fields are quantised into tokens, so every
          prediction is a classification; 15 % masking. Library: whole events are masked (their
          fields are correlated, so hiding one field of an event leaves it readable from the
          others) and numeric fields are regressed as they are standardised.
        * On ``synthetic_transactions`` the default mean-pooled embeddings do not beat the
          random-init transformer's, which already match the raw aggregates there
          (``configs/masked_events_synthetic_transactions.yaml``).
        * Histories of up to 737 events (``ml-100k-sequences``) at batch 256 took 15.6 GB in
          attention and were killed; windows of 200 bound it.
        * ``event_transformer`` with 2 layers of width 64 (BERT-base: 12 of 768). Optimiser, batch
          and epochs: the engine's.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, mask_rate: float = 0.15, mask_share: float = 0.8,
                 random_share: float = 0.1, max_events: int | None = 200) -> None:
        super().__init__(encoder, views)
        if max_events is not None and (isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1):
            raise ValueError(f"max_events must be a positive whole number of events (or null); got {max_events!r}")
        self.max_events = max_events
        check_step_encoder(encoder, "masked_events")
        self.mask_rate = check_rate(mask_rate, "mask_rate")
        if self.mask_rate == 0:
            raise ValueError("mask_rate must be > 0: with nothing masked there is nothing to predict")
        self.mask_share = check_rate(mask_share, "mask_share")
        self.random_share = check_rate(random_share, "random_share")
        if self.mask_share + self.random_share > 1:
            raise ValueError(f"mask_share + random_share must be at most 1, got {mask_share!r} + {random_share!r}")
        cardinalities, numeric = event_fields(encoder)
        dim = int(encoder.step_dim)
        self.transform = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim))
        self.categorical_heads = nn.ModuleList(nn.Linear(dim, cardinality) for cardinality in cardinalities)
        self.numeric_head = nn.Linear(dim, numeric + 1)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        if self.training and self.max_events is not None and x.max_length > self.max_events:
            x = random_windows(x, self.max_events)
        selected = select_events(x, self.mask_rate)
        steps = self.encoder.forward_steps(corrupt_events(x, selected, self.mask_share, self.random_share))
        hidden = self.transform(steps[selected])  # [M, D], the chosen events in row-major order
        terms = masked_event_loss(
            [head(hidden) for head in self.categorical_heads], self.numeric_head(hidden),
            x.categorical[selected], torch.cat([x.numeric, x.delta[..., None]], dim=-1)[selected],
        )
        return {**terms, "masked_events": selected.sum().to(steps.dtype)}

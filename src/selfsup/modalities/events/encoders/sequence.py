"""Event-sequence encoders: :class:`EventEmbedding` (one vector per event) followed by a GRU
(``event_gru``, CoLES's encoder) or a small transformer (``event_transformer``), pooled over the
valid steps to ``[B, D]``.

Both also give one output per event, the **step contract** that CPC, masked event modelling and
next-item models (SASRec, CL4SRec) build on: ``step_dim`` and ``forward_steps(x) -> [B, L, step_dim]``
(the padding rows are zeros for the GRU, the transformer's outputs there are to be ignored; use
``x.mask``). ``event_gru`` is causal (step ``t`` sees events ``<= t``); ``event_transformer`` is
bidirectional unless built with ``causal=True``.

Each event becomes the concatenation of one learned embedding per categorical field (row 0: the
unknown slot), its standardised numeric fields, and its standardised ``log1p`` time delta
(Babaev et al. 2022, Section 3.3: "categorical attributes are encoded with embeddings, numerical
attributes are used as they are" — the time delta is one of them).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from selfsup.encoders.base import dropout_rate, positive_int
from selfsup.errors import SelfsupError
from selfsup.modalities.events.data.batch import EventBatch, EventSpec
from selfsup.registry import ENCODERS

POOLINGS = ("last", "mean")


class EventEmbedding(nn.Module):
    """``x: EventBatch -> [B, L, output_dim]``: categorical embeddings, numeric fields and the
    time delta, concatenated."""

    def __init__(self, input_spec: EventSpec, embedding_dim: int = 16, encoder: str = "event_gru") -> None:
        super().__init__()
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim", encoder)
        # the field names, in the order of ``embeddings``: how a next-item head finds its item field
        self.categorical = tuple(input_spec.categorical)
        self.embeddings = nn.ModuleList(nn.Embedding(c, self.embedding_dim) for c in input_spec.cardinalities)
        self.output_dim = len(input_spec.cardinalities) * self.embedding_dim + len(input_spec.numeric) + 1

    def forward(self, x: EventBatch) -> torch.Tensor:
        parts = [embedding(x.categorical[:, :, j]) for j, embedding in enumerate(self.embeddings)]
        parts += [x.numeric, x.delta[..., None]]
        return torch.cat(parts, dim=-1)


def masked_mean(steps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, L, D]`` averaged over the steps where ``mask [B, L]`` is True -> ``[B, D]``."""
    weights = mask[..., None].to(steps.dtype)
    return (steps * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def _pooling(pooling: str, encoder: str) -> str:
    if pooling not in POOLINGS:
        raise SelfsupError(f"Option pooling of encoder {encoder!r} must be one of {list(POOLINGS)}; got {pooling!r}.")
    return pooling


@ENCODERS.register("event_gru", modality="events", paper="Babaev et al. 2022, CoLES (encoder)",
                   description="event embedding -> GRU; the last hidden state (or the mean over events)")
class EventGRU(nn.Module):
    """``x: EventBatch -> [B, hidden_dim]``: the event embedding through a GRU run over each
    sequence's valid steps, pooled as its last hidden state (``pooling="last"``,
    CoLES's choice) or the mean of its steps' outputs.

    Paper defaults vs. library defaults: a one-layer GRU whose hidden size is tuned per data set
    (800 on the age-group data, as recalled from the paper's hyper-parameter table); library:
    ``hidden_dim = 256``, which a CPU trains in minutes.
    """

    CHUNK = 128  # rows per GRU call (sorted by length)

    def __init__(self, input_spec: EventSpec, hidden_dim: int = 256, num_layers: int = 1, embedding_dim: int = 16,
                 pooling: str = "last", dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = EventEmbedding(input_spec, embedding_dim, "event_gru")
        hidden_dim = positive_int(hidden_dim, "hidden_dim", "event_gru")
        num_layers = positive_int(num_layers, "num_layers", "event_gru")
        dropout = dropout_rate(dropout, "dropout", "event_gru")
        self.pooling = _pooling(pooling, "event_gru")
        self.gru = nn.GRU(self.embedding.output_dim, hidden_dim, num_layers, batch_first=True,
                          dropout=dropout if num_layers > 1 else 0.0)
        self.output_dim = hidden_dim

    @property
    def step_dim(self) -> int:
        return self.output_dim

    def _chunks(self, x: EventBatch):
        """``(rows, outputs [len(rows), width, H])`` per chunk of rows sorted by length.

        Rows sorted by length run in chunks cut to their own longest sequence: almost no time is
        spent on padding. (Packed sequences avoid it too, but their backward pass on CPU is tens
        of times slower than this.) A GRU is causal, so the padding after a row's last event
        changes none of its outputs up to there."""
        steps = self.embedding(x)
        lengths = x.lengths.clamp(min=1)
        order = lengths.argsort()
        for start in range(0, len(order), self.CHUNK):
            rows = order[start:start + self.CHUNK]
            width = int(lengths[rows].max())
            outputs, _ = self.gru(steps[rows, :width])
            yield rows, outputs

    def forward_steps(self, x: EventBatch) -> torch.Tensor:
        """``[B, L, hidden_dim]``: the GRU's output after every event (zeros at the padding)."""
        out = x.delta.new_zeros(len(x), x.max_length, self.output_dim)
        for rows, outputs in self._chunks(x):
            width = outputs.shape[1]
            out[rows, :width] = outputs * x.mask[rows, :width, None]
        return out

    def forward(self, x: EventBatch) -> torch.Tensor:
        lengths = x.lengths.clamp(min=1)
        pooled = x.delta.new_empty(len(x), self.output_dim)
        for rows, outputs in self._chunks(x):
            if self.pooling == "last":
                pooled[rows] = outputs[torch.arange(len(rows), device=outputs.device), lengths[rows] - 1]
            else:
                pooled[rows] = masked_mean(outputs, x.mask[rows, :outputs.shape[1]])
        return pooled


def sinusoid(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """Vaswani et al. 2017's sinusoidal position encoding ``[length, dim]``."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    encoding = torch.zeros(length, dim, device=device)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)[:, : dim // 2]
    return encoding


@ENCODERS.register("event_transformer", modality="events",
                   description="event embedding -> small transformer encoder; mean over events (or the last one)")
class EventTransformer(nn.Module):
    """``x: EventBatch -> [B, d_model]``: the event embedding projected to ``d_model`` plus
    sinusoidal positions, a pre-norm transformer encoder with padding masked out, pooled by the
    mean over valid steps (``pooling="mean"``) or the last event's output. ``causal=True`` lets
    each event attend only to itself and earlier events (SASRec, Kang & McAuley 2018); pool it
    with ``pooling="last"``."""

    # rows per attention call: at most this many attention weights at once (long histories)
    ATTENTION_BUDGET = 2 ** 26

    def __init__(self, input_spec: EventSpec, d_model: int = 64, heads: int = 4, layers: int = 2,
                 embedding_dim: int = 16, pooling: str = "mean", dropout: float = 0.1, causal: bool = False) -> None:
        super().__init__()
        self.embedding = EventEmbedding(input_spec, embedding_dim, "event_transformer")
        if not isinstance(causal, bool):
            raise SelfsupError(f"Option causal of encoder 'event_transformer' must be true or false; got {causal!r}.")
        self.causal = causal
        d_model = positive_int(d_model, "d_model", "event_transformer")
        self.heads = positive_int(heads, "heads", "event_transformer")
        if d_model % self.heads:
            raise SelfsupError(f"Option heads of encoder 'event_transformer' must divide d_model={d_model}; got {heads!r}.")
        layers = positive_int(layers, "layers", "event_transformer")
        dropout = dropout_rate(dropout, "dropout", "event_transformer")
        self.pooling = _pooling(pooling, "event_transformer")
        self.project = nn.Linear(self.embedding.output_dim, d_model)
        block = nn.TransformerEncoderLayer(d_model, self.heads, 4 * d_model, dropout, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.output_dim = d_model

    @property
    def step_dim(self) -> int:
        return self.output_dim

    def _valid(self, x: EventBatch) -> torch.Tensor:
        # an empty sequence attends to its first (padding) step rather than to nothing
        return x.mask | (x.lengths[:, None] == 0) & (torch.arange(x.max_length, device=x.device) == 0)

    def forward_steps(self, x: EventBatch) -> torch.Tensor:
        """``[B, L, d_model]``: the output at every event, after the final norm (step ``t`` sees
        only events ``<= t`` when ``causal``); rows past each sequence's length are padding."""
        steps = self.project(self.embedding(x))
        steps = steps + sinusoid(steps.shape[1], steps.shape[2], steps.device)
        mask = self._valid(x)
        width = steps.shape[1]
        causal = (torch.ones(width, width, dtype=torch.bool, device=steps.device).triu(1)  # True: may not attend
                  if self.causal else None)
        chunk = max(1, self.ATTENTION_BUDGET // max(1, self.heads * steps.shape[1] ** 2))
        outputs = torch.cat([self.transformer(steps[i:i + chunk], mask=causal, src_key_padding_mask=~mask[i:i + chunk],
                                              is_causal=self.causal)
                             for i in range(0, steps.shape[0], chunk)]) if len(steps) else steps
        return self.norm(outputs)

    def forward(self, x: EventBatch) -> torch.Tensor:
        outputs = self.forward_steps(x)
        mask = self._valid(x)
        if self.pooling == "mean":
            return masked_mean(outputs, mask)
        last = (x.lengths - 1).clamp(min=0)
        return outputs[torch.arange(len(last), device=x.device), last]

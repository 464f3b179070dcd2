"""What a method that works on one output per event asks of an event encoder (the step contract
of :mod:`selfsup.modalities.events.encoders.sequence`), checked once when the method is built:

- :func:`check_step_encoder`: ``step_dim``, ``forward_steps(x) -> [B, L, step_dim]`` and the
  per-event input ``embedding`` (an ``nn.Module`` with ``output_dim``), else one clear error;
- :func:`is_causal`: whether step ``t`` sees only the events up to ``t``;
- :func:`event_fields`: the categorical cardinalities and the numeric field count the encoder's
  embedding was built for (what a method's per-field prediction heads are sized by).
"""

from __future__ import annotations

from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.events.encoders.sequence import EventGRU

STEP_ATTRIBUTES = ("step_dim", "forward_steps", "embedding")


def check_step_encoder(encoder: nn.Module, method: str) -> nn.Module:
    """``encoder`` if it has the step contract, else a SelfsupError naming ``method``."""
    missing = [a for a in STEP_ATTRIBUTES if not hasattr(encoder, a)]
    if not missing and not hasattr(encoder.embedding, "output_dim"):
        missing = ["embedding.output_dim"]
    if missing:
        raise SelfsupError(
            f"Method {method!r} needs an event encoder with one output per event (step_dim, forward_steps, "
            f"embedding), such as event_gru or event_transformer; {type(encoder).__name__} has no "
            f"{', '.join(missing)}. Choose an events encoder (--encoder / encoder.name)."
        )
    return encoder


def is_causal(encoder: nn.Module) -> bool:
    """True when ``forward_steps``'s step ``t`` depends on the events ``<= t`` only: an encoder
    says so with a boolean ``causal`` attribute (``event_transformer``); a recurrent
    ``event_gru`` is causal by construction."""
    causal = getattr(encoder, "causal", None)
    if isinstance(causal, bool):
        return causal
    return isinstance(encoder, EventGRU)


def event_fields(encoder: nn.Module) -> tuple[tuple[int, ...], int]:
    """``(cardinalities, numeric)`` of the events the encoder reads: one index count per
    categorical field (the unknown slot 0 included) and the number of numeric fields (the time
    delta not counted), from its :class:`~selfsup.modalities.events.encoders.sequence.EventEmbedding`
    (categorical embeddings, then the numeric fields and the delta, concatenated)."""
    embedding = encoder.embedding
    tables = getattr(embedding, "embeddings", None)
    width = getattr(embedding, "embedding_dim", None)
    if tables is None or width is None:
        raise SelfsupError(f"The encoder's embedding ({type(embedding).__name__}) does not say which event fields it "
                           "reads (embeddings, embedding_dim); use the event encoders' EventEmbedding.")
    cardinalities = tuple(int(table.num_embeddings) for table in tables)
    return cardinalities, int(embedding.output_dim) - len(cardinalities) * int(width) - 1

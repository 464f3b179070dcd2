"""What the text methods share: the check that an encoder gives per-token states, BERT's MLM head
with output weights tied to the input embedding, and the option checks."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import TextSpec


def check_token_states(encoder: nn.Module, method: str) -> nn.Module:
    """``encoder`` if it has ``token_states`` and ``input_embedding`` (``bert``), else one
    SelfsupError naming the method."""
    if not (hasattr(encoder, "token_states") and hasattr(encoder, "input_embedding")):
        raise SelfsupError(f"Method {method!r} predicts tokens, so it needs an encoder with per-token states "
                           f"such as 'bert'; {type(encoder).__name__} has no token_states. Use --encoder bert.")
    return encoder


def encoder_spec(encoder: nn.Module, method: str) -> TextSpec:
    """The :class:`TextSpec` the encoder was built for."""
    spec = getattr(encoder, "input_spec", None)
    if not isinstance(spec, TextSpec):
        raise SelfsupError(f"Method {method!r} is written for text; the encoder reads {spec!r}.")
    return spec


def fraction(value: Any, name: str, method: str, high: float = 1.0, zero: bool = False) -> float:
    """``float(value)`` if it is a number in ``(0, high]`` (``[0, high]`` with ``zero``)."""
    valid = not isinstance(value, bool) and isinstance(value, (int, float)) and (0 <= value if zero else 0 < value)
    if not (valid and value <= high):
        interval = f"[0, {high}]" if zero else f"(0, {high}]"
        raise SelfsupError(f"Option {name} of method {method!r} must be a number in {interval}; got {value!r}.")
    return float(value)


def count(value: Any, name: str, method: str, low: int = 1) -> int:
    """``value`` if it is an integer ``>= low``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SelfsupError(f"Option {name} of method {method!r} must be an integer >= {low}; got {value!r}.")
    return value


class MLMHead(nn.Module):
    """BERT's masked-LM head (Devlin et al. 2019; the ``BertLMPredictionHead`` of the release):
    dense -> GELU -> LayerNorm -> a decoder whose weights are the input embedding ``[V, E]``
    (tied, Press & Wolf 2017) plus a per-token bias.

    Args:
        in_dim: width of the states it reads.
        embedding: the encoder's input embedding (its ``.weight`` is ``[V, E]``).

    Shapes: ``states [..., in_dim] -> logits [..., V]``.
    """

    def __init__(self, in_dim: int, embedding: nn.Embedding) -> None:
        super().__init__()
        vocab, width = embedding.weight.shape
        self.dense = nn.Linear(in_dim, width)
        self.norm = nn.LayerNorm(width)
        self.embedding = embedding  # shared with the encoder, not a copy
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        hidden = self.norm(nn.functional.gelu(self.dense(states)))
        return hidden @ self.embedding.weight.T + self.bias

"""Cheap text encoders over token embeddings: Kim's CNN and a bidirectional GRU."""

from __future__ import annotations

import torch
from torch import nn

from selfsup.encoders.base import dropout_rate, positive_int
from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import TextBatch, TextSpec
from selfsup.modalities.text.encoders.bert import check_text_batch, masked_mean, text_spec
from selfsup.registry import ENCODERS


@ENCODERS.register(
    "text_cnn", modality="text",
    paper="Kim 2014, Convolutional Neural Networks for Sentence Classification",
    description="token embeddings, parallel 1-D convolutions (widths 3/4/5), max over the text's positions",
)
class TextCNN(nn.Module):
    r"""Kim's sentence CNN (EMNLP 2014): embeddings, one convolution per width
    :math:`h \in \{3, 4, 5\}` with ReLU, max-pooling over the text's own positions (padding never
    wins the max), the pooled maps side by side, dropout. ``forward(x) -> [B, len(widths) * channels]``.

    Paper defaults vs. library: embeddings 300 (word2vec), 100 maps per width, dropout 0.5.
    Library: embeddings 128, 128 maps per width, dropout 0.1 (SimCSE-style methods use it as noise).
    """

    def __init__(self, spec: TextSpec, dim: int = 128, channels: int = 128, widths: tuple[int, ...] = (3, 4, 5),
                 dropout: float = 0.1) -> None:
        super().__init__()
        name = "text_cnn"
        self.input_spec = text_spec(spec, name)
        dim, channels = positive_int(dim, "dim", name), positive_int(channels, "channels", name)
        widths = tuple(widths) if isinstance(widths, (list, tuple)) else ()
        if not widths or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
            raise SelfsupError(f"Option widths of encoder {name!r} must be a list of positive integers; got {widths!r}.")
        self.token_embed = nn.Embedding(spec.vocab_size, dim)
        # zero padding of w // 2 (cut back to L): a text shorter than a width still gets a value at
        # each of its positions
        self.convs = nn.ModuleList(nn.Conv1d(dim, channels, w, padding=w // 2) for w in widths)
        self.dropout = nn.Dropout(dropout_rate(dropout, "dropout", name))
        self.output_dim = channels * len(widths)

    def forward(self, x: TextBatch) -> torch.Tensor:
        x = check_text_batch(x, self.input_spec, "text_cnn")
        padding = ~x.mask[:, None, :]
        # the padding's embeddings are zeroed so that a text's values do not depend on the batch
        embedded = self.dropout(self.token_embed(x.ids)).transpose(1, 2).masked_fill(padding, 0.0)  # [B, dim, L]
        pooled = [torch.relu(conv(embedded)[..., : x.max_length]).masked_fill(padding, float("-inf")).amax(dim=2)
                  for conv in self.convs]
        return self.dropout(torch.cat(pooled, dim=1))


@ENCODERS.register(
    "text_gru", modality="text",
    paper="Cho et al. 2014 (GRU); Conneau et al. 2017, InferSent (pooled BiRNN sentence encoder)",
    description="token embeddings, bidirectional GRU over each text's own length, mean or last-state pooling",
)
class TextGRU(nn.Module):
    """A bidirectional GRU over the embedded tokens, run on each text's own length (packed
    sequences, so padding never enters the recurrence). ``pooling="mean"``: the mean of the
    outputs over the text's tokens (InferSent found pooled BiRNN states beat the last state);
    ``"last"``: the forward direction's last state and the backward direction's first, side by
    side. ``forward(x) -> [B, 2 * hidden]``."""

    def __init__(self, spec: TextSpec, dim: int = 128, hidden: int = 128, layers: int = 1, dropout: float = 0.1,
                 pooling: str = "mean") -> None:
        super().__init__()
        name = "text_gru"
        self.input_spec = text_spec(spec, name)
        dim, hidden = positive_int(dim, "dim", name), positive_int(hidden, "hidden", name)
        layers = positive_int(layers, "layers", name)
        if pooling not in ("mean", "last"):
            raise SelfsupError(f"Option pooling of encoder {name!r} must be 'mean' or 'last'; got {pooling!r}.")
        self.pooling = pooling
        rate = dropout_rate(dropout, "dropout", name)
        self.token_embed = nn.Embedding(spec.vocab_size, dim)
        self.dropout = nn.Dropout(rate)
        self.gru = nn.GRU(dim, hidden, layers, batch_first=True, bidirectional=True,
                          dropout=rate if layers > 1 else 0.0)
        self.output_dim = 2 * hidden

    def forward(self, x: TextBatch) -> torch.Tensor:
        x = check_text_batch(x, self.input_spec, "text_gru")
        embedded = self.dropout(self.token_embed(x.ids))
        packed = nn.utils.rnn.pack_padded_sequence(embedded, x.lengths.cpu().clamp_min(1), batch_first=True,
                                                   enforce_sorted=False)
        outputs, last = self.gru(packed)
        if self.pooling == "last":
            return torch.cat([last[-2], last[-1]], dim=1)  # the top layer's two directions
        outputs, _ = nn.utils.rnn.pad_packed_sequence(outputs, batch_first=True, total_length=x.max_length)
        return masked_mean(outputs, x.mask)

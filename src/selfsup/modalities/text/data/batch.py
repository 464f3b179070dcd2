"""What a text batch is: :class:`TextBatch`, the ``"x"`` of every text batch, and the input spec
:class:`TextSpec`, which carries the run's tokenizer.

A batch holds ``B`` texts as token ids, left-aligned and padded to the longest text of the batch
(``L`` ≤ ``TextSpec.max_length``):

- ``ids [B, L]`` int64: ``[CLS] t_1 … t_n [SEP]`` then ``pad_id`` (BERT's layout, Devlin et al.
  2019); a text longer than ``max_length`` keeps its first ``max_length - 2`` tokens;
- ``lengths [B]`` int64: how many positions of each row are tokens (``[CLS]`` and ``[SEP]``
  included); the rest is padding.

The special ids are fixed, so views and methods can rely on them without the tokenizer:
``pad 0, unk 1, cls 2, sep 3, mask 4``; the tokenizer's own vocabulary follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
#: the special tokens, in id order
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclass(frozen=True)
class TextSpec:
    """One text's input spec: the vocabulary size, the longest sequence (special tokens included)
    and the tokenizer (the ``tokenizer.json`` text of Hugging Face ``tokenizers``), so a run's
    encoder always reads new text tokenised as in training."""

    vocab_size: int
    max_length: int = 128
    tokenizer: str = ""

    pad_id = PAD
    unk_id = UNK
    cls_id = CLS
    sep_id = SEP
    mask_id = MASK
    #: ids below this are special: views never mask, delete or replace by them
    first_regular_id = len(SPECIAL_TOKENS)

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": [self.max_length], "vocab_size": self.vocab_size, "max_length": self.max_length,
                "tokenizer": self.tokenizer}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextSpec:
        return cls(int(data["vocab_size"]), int(data.get("max_length", 128)), str(data.get("tokenizer", "")))


@dataclass
class TextBatch:
    """Padded token ids (module doc); ``mask`` marks the tokens."""

    ids: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def device(self) -> torch.device:
        return self.ids.device

    @property
    def max_length(self) -> int:
        return int(self.ids.shape[1])

    @property
    def mask(self) -> torch.Tensor:
        """``[B, L]`` bool: True at the tokens, False at the padding."""
        return torch.arange(self.max_length, device=self.device)[None, :] < self.lengths[:, None]

    @property
    def regular(self) -> torch.Tensor:
        """``[B, L]`` bool: True at the text's own tokens (not padding, ``[CLS]`` or ``[SEP]``):
        the positions views may mask, delete, replace or reorder."""
        return self.mask & (self.ids >= TextSpec.first_regular_id)

    def to(self, device: Any, non_blocking: bool = False) -> TextBatch:
        return TextBatch(self.ids.to(device, non_blocking=non_blocking),
                         self.lengths.to(device, non_blocking=non_blocking))

    def replace(self, ids: torch.Tensor | None = None, lengths: torch.Tensor | None = None) -> TextBatch:
        """A batch with new ``ids`` and/or ``lengths`` (the padding of ``ids`` must be ``PAD``)."""
        return TextBatch(self.ids if ids is None else ids, self.lengths if lengths is None else lengths)

    def padded_to(self, length: int) -> TextBatch:
        """The batch padded (or cut: only padding may go) to ``length`` positions: what an
        encoder with a fixed token grid (the token contract) runs on."""
        longest = int(self.lengths.max()) if len(self) else 0
        if length < longest:
            raise ValueError(f"padded_to({length}) would cut tokens; the longest text has {longest}")
        ids = self.ids[:, :length]
        if ids.shape[1] < length:
            ids = torch.nn.functional.pad(ids, (0, length - ids.shape[1]), value=PAD)
        return TextBatch(ids, self.lengths)


def pack(sequences: list[list[int]] | list[torch.Tensor], max_length: int | None = None) -> TextBatch:
    """Token-id sequences (special tokens included) -> one padded :class:`TextBatch`; rows longer
    than ``max_length`` keep their first ``max_length - 1`` ids and end in ``[SEP]``."""
    rows = [torch.as_tensor(s, dtype=torch.long) for s in sequences]
    if max_length is not None:
        rows = [r if len(r) <= max_length else torch.cat([r[: max_length - 1], torch.tensor([SEP])]) for r in rows]
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    width = int(lengths.max()) if rows else 0
    ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return TextBatch(ids, lengths)

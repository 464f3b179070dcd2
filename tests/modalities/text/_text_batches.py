"""Random text batches for the model-side tests (the data side's readers are not needed)."""

from __future__ import annotations

import torch

from selfsup.modalities.text.data.batch import CLS, SEP, TextBatch, TextSpec, pack

VOCAB = 60
SPEC = TextSpec(vocab_size=VOCAB, max_length=24)


def random_texts(n: int = 16, low: int = 3, high: int = 20, seed: int = 0, spec: TextSpec = SPEC) -> TextBatch:
    """``n`` texts of ``low..high`` regular tokens (``[CLS]`` and ``[SEP]`` added)."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(low, high + 1, (n,), generator=generator).tolist()
    rows = [[CLS, *torch.randint(spec.first_regular_id, spec.vocab_size, (k,), generator=generator).tolist(), SEP]
            for k in lengths]
    return pack(rows, spec.max_length)


def text_batch(n: int = 16, seed: int = 0, **kwargs) -> dict:
    return {"x": random_texts(n, seed=seed, **kwargs), "index": torch.arange(n)}

"""Every method of the catalogue trains on text unchanged (a padded batch of token ids, the text
views, the text encoders), through the ordinary contracts.

The pooled methods train on a tiny ``bert`` with ``text_augment`` views; the token methods (MAE,
JEPA) on ``bert``'s token contract (tokens padded to ``max_length``, padding out of attention,
MAE's targets the random code of each id) with the text unchanged. Mixed Barlow Twins
interpolates input tensors, which a text batch is not: it is checked to be refused with one
clear error instead.
"""

from __future__ import annotations

import pytest
import torch
from test_catalogue import SMALL_BATCH, _builtin

from _catalogue_steps import MIXES_INPUTS, trains_a_few_steps
from selfsup.modalities.text.data.batch import CLS, SEP, TextSpec, pack
from selfsup.modalities.text.encoders import bert  # noqa: F401  - registers the text encoders
from selfsup.modalities.text.views import augment  # noqa: F401  - registers the text views
from selfsup.registry import ENCODERS, METHODS, VIEWS

SPEC = TextSpec(vocab_size=50, max_length=20)


def _generic_methods() -> list[str]:
    return [n for n in METHODS.names() if _builtin(n) and not METHODS.entry(n).info.modality]


def _batch(size: int = 32) -> dict:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(2, 17, (size,), generator=generator).tolist()
    rows = [[CLS, *torch.randint(5, 50, (k,), generator=generator).tolist(), SEP] for k in lengths]
    return {"x": pack(rows), "index": torch.arange(size), "y": torch.arange(size) % 4}


@pytest.mark.parametrize("name", _generic_methods())
def test_catalogue_method_trains_on_text(name):
    torch.manual_seed(0)
    encoder = ENCODERS.build("bert", SPEC, dim=32, depth=1, heads=2)
    tokens = "tokens" in METHODS.info(name).needs
    views = VIEWS.build("text_identity" if tokens else "text_augment", SPEC)
    method = METHODS.build(name, encoder, views, **SMALL_BATCH.get(name, {}))
    losses = trains_a_few_steps(name, method, _batch(), steps=3)
    assert len(losses) == (3 if name not in MIXES_INPUTS else 0), name

"""ELECTRA: the replaced-token-detection loss against a hand-written BCE, the generator (narrower,
embeddings shared), the corruption (no gradient through sampling, special ids never sampled) and
a few training steps."""

from __future__ import annotations

import math

import pytest
import torch
from _text_batches import SPEC, text_batch

from selfsup.errors import SelfsupError
from selfsup.modalities.text.encoders.baselines import TextGRU
from selfsup.modalities.text.encoders.bert import BertEncoder
from selfsup.modalities.text.losses.electra import replaced_token_detection_loss
from selfsup.registry import METHODS, VIEWS


def _electra(**kwargs):
    return METHODS.build("electra", BertEncoder(SPEC, size="mini", depth=1), VIEWS.build("text_identity", SPEC),
                         **kwargs)


def test_replaced_token_detection_loss_equals_bce_over_the_tokens_by_hand():
    torch.manual_seed(0)
    logits = torch.randn(3, 6)
    replaced = torch.rand(3, 6) < 0.3
    mask = torch.arange(6)[None] < torch.tensor([[6], [4], [2]])
    terms = []
    for b in range(3):
        for t in range(6):
            if mask[b, t]:
                p = 1 / (1 + math.exp(-float(logits[b, t])))
                terms.append(-math.log(p) if replaced[b, t] else -math.log(1 - p))
    expected = sum(terms) / len(terms)
    assert float(replaced_token_detection_loss(logits, replaced, mask)) == pytest.approx(expected, rel=1e-5)


def test_electra_generator_is_narrower_and_shares_the_token_embedding():
    method = _electra()
    assert method.generator.dim == method.encoder.dim // 4 and method.generator.depth == method.encoder.depth
    assert method.generator.token_embed[0] is method.encoder.token_embed
    assert method.generator_head.embedding is method.encoder.token_embed
    # a shared parameter is one parameter for the optimiser
    ids = [id(p) for p in method.parameters()]
    assert len(ids) == len(set(ids))
    with pytest.raises(SelfsupError, match="Use --encoder bert"):
        METHODS.build("electra", TextGRU(SPEC), VIEWS.build("text_identity", SPEC))


def test_electra_trains_both_networks_and_reduces_its_loss():
    torch.manual_seed(0)
    method = _electra()
    batch = text_batch(16)
    out = method(batch)
    assert 0 < float(out["replaced_fraction"]) < 0.3
    out["loss"].backward()
    # the discriminator (the kept encoder) and the generator both get gradients
    assert method.encoder.blocks[0].linear1.weight.grad.abs().sum() > 0
    assert method.generator.blocks[0].linear1.weight.grad.abs().sum() > 0
    assert method.discriminator_head[0].weight.grad.abs().sum() > 0
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-3)
    losses = []
    for _ in range(25):
        optimizer.zero_grad()
        loss = method(batch)["loss"]
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5


def test_electra_corruption_samples_regular_tokens_at_the_selected_positions_only(monkeypatch):
    torch.manual_seed(0)
    method = _electra(mask_prob=0.5)
    batch = text_batch(32)
    seen = {}
    original = method.encoder.token_states

    def spy(x):
        seen["ids"] = x.ids.clone()
        return original(x)

    monkeypatch.setattr(method.encoder, "token_states", spy)
    method(batch)
    x = batch["x"]
    changed = seen["ids"] != x.ids
    assert changed.any()
    assert not (changed & ~x.regular).any()
    assert (seen["ids"][changed] >= SPEC.first_regular_id).all()

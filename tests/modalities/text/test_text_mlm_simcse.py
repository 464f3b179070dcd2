"""MLM (the loss, training, pseudo-perplexity) and unsupervised SimCSE (the loss against the
cross-entropy of a hand-made similarity matrix, dropout views, training)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from _text_batches import SPEC, VOCAB, random_texts, text_batch

from selfsup.errors import SelfsupError
from selfsup.modalities.text.encoders.baselines import TextCNN
from selfsup.modalities.text.encoders.bert import BertEncoder
from selfsup.modalities.text.losses.mlm import IGNORE, masked_lm_loss
from selfsup.modalities.text.losses.simcse import simcse_loss
from selfsup.modalities.text.methods.mlm import MLM
from selfsup.modalities.text.methods.pseudo_perplexity import pseudo_log_likelihoods
from selfsup.registry import METHODS, VIEWS


def _train(method, batch, steps: int = 30, lr: float = 1e-3) -> list[float]:
    optimizer = torch.optim.Adam(method.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = method(batch)["loss"]
        loss.backward()
        losses.append(float(loss.detach()))
        optimizer.step()
    return losses


class _TestSplit:
    """What ``final_scores`` reads of a data source: ``test.__getitems__`` -> batch dict."""

    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitems__(self, rows):
        return {"x": self.x.replace(ids=self.x.ids[rows], lengths=self.x.lengths[rows]), "index": torch.tensor(rows)}


def test_masked_lm_loss_is_cross_entropy_at_the_selected_positions_only():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, VOCAB)
    targets = torch.full((3, 5), IGNORE)
    targets[0, 1], targets[2, 4] = 7, 9
    expected = -(logits[0, 1].log_softmax(-1)[7] + logits[2, 4].log_softmax(-1)[9]) / 2
    torch.testing.assert_close(masked_lm_loss(logits, targets), expected)
    empty = masked_lm_loss(logits.requires_grad_(), torch.full((3, 5), IGNORE))
    assert float(empty.detach()) == 0.0 and empty.requires_grad


def test_mlm_trains_reduces_its_loss_and_reaches_the_encoder():
    torch.manual_seed(0)
    method = METHODS.build("mlm", BertEncoder(SPEC, dropout=0.0), VIEWS.build("text_identity", SPEC))
    batch = text_batch(16)
    # the same texts every step: the loss falls as the model memorises them
    losses = _train(method, batch, steps=80, lr=3e-3)
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    method.zero_grad()
    method(batch)["loss"].backward()
    assert method.encoder.token_embed.weight.grad.abs().sum() > 0
    assert method.encoder.blocks[0].linear1.weight.grad.abs().sum() > 0
    # the head's decoder is the encoder's embedding, not a copy
    assert method.head.embedding.weight is method.encoder.input_embedding.weight


def test_mlm_refuses_an_encoder_without_token_states():
    with pytest.raises(SelfsupError, match="needs an encoder with per-token states"):
        METHODS.build("mlm", TextCNN(SPEC), VIEWS.build("text_identity", SPEC))
    with pytest.raises(SelfsupError, match="mask_token_frac"):
        METHODS.build("mlm", BertEncoder(SPEC), VIEWS.build("text_identity", SPEC), mask_token_frac=0.95)


def test_pseudo_perplexity_of_a_uniform_predictor_is_the_vocabulary_size():
    x = random_texts(7)

    def uniform(masked, columns):
        return torch.full((len(masked), VOCAB), -math.log(VOCAB))

    total, n = pseudo_log_likelihoods(x, uniform, copies=10)
    assert n == int(x.regular.sum())
    assert math.exp(-total / n) == pytest.approx(VOCAB)


def test_pseudo_log_likelihood_masks_each_token_in_turn():
    x = random_texts(3, low=4, high=6)
    seen = []

    def spy(masked, columns):
        # exactly one [MASK] per copy, at the position asked about
        assert torch.equal((masked.ids == 4).nonzero()[:, 1], columns)
        seen.extend(zip(masked.ids.tolist(), columns.tolist()))
        return torch.zeros(len(masked), VOCAB)

    pseudo_log_likelihoods(x, spy, copies=4)
    assert len(seen) == int(x.regular.sum())


def test_mlm_final_scores_report_pseudo_perplexity_on_a_seeded_test_subset():
    torch.manual_seed(0)
    method = MLM(BertEncoder(SPEC), VIEWS.build("text_identity", SPEC), scored_texts=5)
    source = SimpleNamespace(test=_TestSplit(random_texts(12, seed=3)))
    method.train()
    first = method.final_scores(source)
    assert method.training  # restored
    assert set(first) == {"pseudo_perplexity"}
    # an untrained model is close to uniform over the vocabulary
    assert 0.5 * VOCAB < first["pseudo_perplexity"] < 2 * VOCAB
    assert method.final_scores(source) == first  # the same subset, no dropout
    assert method.final_scores(SimpleNamespace(test=None)) == {}


def test_simcse_loss_equals_cross_entropy_over_the_cosine_matrix():
    torch.manual_seed(0)
    h1, h2 = torch.randn(6, 8), torch.randn(6, 8)
    sim = torch.tensor([[F.cosine_similarity(h1[i], h2[j], dim=0) for j in range(6)] for i in range(6)])
    expected = -torch.stack([(sim[i, i] / 0.05) - torch.logsumexp(sim[i] / 0.05, 0) for i in range(6)]).mean()
    torch.testing.assert_close(simcse_loss(h1, h2, 0.05), expected)


def test_simcse_views_differ_only_by_dropout():
    torch.manual_seed(0)
    method = METHODS.build("simcse", BertEncoder(SPEC), VIEWS.build("text_twice", SPEC))
    batch = text_batch(8)
    v1, v2 = method.views(batch, 2)
    assert torch.equal(v1["x"].ids, v2["x"].ids)
    method.train()
    assert not torch.allclose(method.encoder(v1["x"]), method.encoder(v2["x"]))
    method.eval()
    torch.testing.assert_close(method.encoder(v1["x"]), method.encoder(v2["x"]))
    # without dropout two passes agree: the loss of identical pairs is the smallest in-batch CE
    quiet = METHODS.build("simcse", BertEncoder(SPEC, dropout=0.0), VIEWS.build("text_twice", SPEC))
    assert float(quiet(batch)["positive_cosine"]) == pytest.approx(1.0, abs=1e-5)


def test_simcse_trains_reduces_its_loss_and_reaches_the_encoder():
    torch.manual_seed(0)
    method = METHODS.build("simcse", BertEncoder(SPEC), VIEWS.build("text_twice", SPEC))
    batch = text_batch(16)
    losses = _train(method, batch, steps=15, lr=1e-3)
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    method.zero_grad()
    method(batch)["loss"].backward()
    assert method.encoder.blocks[-1].linear2.weight.grad.abs().sum() > 0
    with pytest.raises(SelfsupError, match="temperature"):
        METHODS.build("simcse", BertEncoder(SPEC), VIEWS.build("text_twice", SPEC), temperature=0)

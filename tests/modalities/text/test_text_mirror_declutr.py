"""Mirror-BERT (span-masked copy, NT-Xent at 0.04) and DeCLUTR (anchor and positive spans of the
same text, Beta-distributed lengths, MLM on the anchors): their inputs, losses and training."""

from __future__ import annotations

import pytest
import torch
from _text_batches import SPEC, random_texts, text_batch

from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import MASK
from selfsup.modalities.text.encoders.baselines import TextCNN
from selfsup.modalities.text.encoders.bert import BertEncoder
from selfsup.modalities.text.methods.declutr import sample_spans, span_lengths
from selfsup.registry import METHODS, VIEWS


def _steps(method, batch, steps: int = 15, lr: float = 1e-3) -> list[float]:
    optimizer = torch.optim.Adam(method.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = method(batch)["loss"]
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


def _content(x, i) -> list[int]:
    return x.ids[i, 1 : x.lengths[i] - 1].tolist()


def test_mirror_bert_loss_is_infonce_over_the_text_and_its_span_masked_copy(monkeypatch):
    torch.manual_seed(0)
    method = METHODS.build("mirror_bert", BertEncoder(SPEC), VIEWS.build("text_twice", SPEC)).eval()
    batch = text_batch(8)
    inputs = []
    original = method.encoder.forward
    monkeypatch.setattr(method.encoder, "forward", lambda x: inputs.append(x) or original(x))
    loss = float(method(batch)["loss"].detach())
    first, mirrored = inputs
    assert torch.equal(first.ids, batch["x"].ids)
    n = batch["x"].lengths - 2
    assert torch.equal((mirrored.ids == MASK).sum(1), torch.minimum(torch.full_like(n, 5), n - 1))
    # by hand: every encoding's positive is its mirror, the 2N - 2 others are negatives, tau 0.04
    with torch.no_grad():
        z = torch.nn.functional.normalize(torch.cat([original(first), original(mirrored)]), dim=1)
    sim = (z @ z.T / 0.04).double()
    terms = []
    for i in range(16):
        others = [k for k in range(16) if k != i]
        terms.append(-(sim[i, (i + 8) % 16] - torch.logsumexp(sim[i, others], 0)))
    assert loss == pytest.approx(float(torch.stack(terms).mean()), rel=1e-4)


def test_mirror_bert_trains_reduces_its_loss_and_reaches_the_encoder():
    torch.manual_seed(0)
    method = METHODS.build("mirror_bert", BertEncoder(SPEC), VIEWS.build("text_twice", SPEC))
    batch = text_batch(16)
    losses = _steps(method, batch)
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    method.zero_grad()
    method(batch)["loss"].backward()
    assert method.encoder.token_embed.weight.grad.abs().sum() > 0


def test_declutr_span_lengths_follow_the_beta_shapes_within_the_text():
    torch.manual_seed(0)
    n = torch.full((4000,), 40)
    anchor = span_lengths(n, (4.0, 2.0), 0.25).float()
    positive = span_lengths(n, (2.0, 4.0), 0.25).float()
    assert anchor.min() >= 10 and anchor.max() <= 40 and positive.min() >= 10
    # E[Beta(4, 2)] = 2/3, E[Beta(2, 4)] = 1/3 of the 30 tokens between the bounds (floored)
    assert abs(anchor.mean() - (10 + 30 * 2 / 3 - 0.5)) < 0.6
    assert abs(positive.mean() - (10 + 30 / 3 - 0.5)) < 0.6
    assert torch.equal(span_lengths(torch.tensor([0, 1]), (4.0, 2.0), 0.25), torch.tensor([0, 1]))


def test_declutr_positive_spans_overlap_adjoin_or_lie_inside_the_anchor():
    torch.manual_seed(0)
    x = random_texts(300, low=1, high=22)
    anchor, positive = sample_spans(x)
    kinds = set()
    for i in range(len(x)):
        text, a, p = _content(x, i), _content(anchor, i), _content(positive, i)
        sa = next(s for s in range(len(text) - len(a) + 1) if text[s : s + len(a)] == a)
        starts = [s for s in range(len(text) - len(p) + 1) if text[s : s + len(p)] == p]
        assert len(a) >= 1 and len(p) >= 1 and starts
        # some occurrence of the positive touches the anchor (overlaps or adjoins it)
        assert any(s <= sa + len(a) and s + len(p) >= sa for s in starts)
        s = starts[0]
        kinds.add("inside" if sa <= s and s + len(p) <= sa + len(a) else "overlap/adjacent")
    assert kinds == {"inside", "overlap/adjacent"}


def test_declutr_trains_with_and_without_mlm():
    torch.manual_seed(0)
    batch = text_batch(16)
    method = METHODS.build("declutr", BertEncoder(SPEC), VIEWS.build("text_identity", SPEC), positives=2)
    out = method(batch)
    assert {"mlm_loss", "contrastive_loss"} <= set(out)
    losses = _steps(method, batch, steps=20)
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4
    method.zero_grad()
    method(batch)["loss"].backward()
    assert method.encoder.blocks[0].linear1.weight.grad.abs().sum() > 0
    plain = METHODS.build("declutr", TextCNN(SPEC), VIEWS.build("text_identity", SPEC), mlm_weight=0.0)
    assert "mlm_loss" not in plain(batch)
    with pytest.raises(SelfsupError, match="mlm_weight=0"):
        METHODS.build("declutr", TextCNN(SPEC), VIEWS.build("text_identity", SPEC))

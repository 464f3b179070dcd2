"""Text encoders (padding never changes a text's embedding, the token contract, sizes) and the
batched views (BERT's 80/10/10, span masking, deletion, crops, reordering keep the layout)."""

from __future__ import annotations

import pytest
import torch
from _text_batches import SPEC, VOCAB, random_texts, text_batch

from selfsup.encoders.tokens import check_token_encoder
from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import CLS, MASK, PAD, SEP, TextBatch, pack
from selfsup.modalities.text.encoders.baselines import TextCNN, TextGRU
from selfsup.modalities.text.encoders.bert import SIZES, BertEncoder
from selfsup.modalities.text.views import ops
from selfsup.modalities.text.views.augment import TextAugment, TextIdentity, TextTwice
from selfsup.registry import ENCODERS, VIEWS


def _layout_ok(x: TextBatch) -> None:
    """``[CLS] content [SEP]`` then padding; no special id but [MASK]/[UNK] in the content."""
    j = torch.arange(x.max_length)[None]
    assert (x.ids[:, 0] == CLS).all()
    assert (x.ids.gather(1, (x.lengths - 1)[:, None]) == SEP).all()
    assert (x.ids[j >= x.lengths[:, None]] == PAD).all()
    inner = ops.content(x)
    assert not (inner & ((x.ids == CLS) | (x.ids == SEP) | (x.ids == PAD))).any()


@pytest.mark.parametrize("factory", [BertEncoder, TextCNN, TextGRU])
def test_text_encoder_embedding_does_not_depend_on_padding(factory):
    torch.manual_seed(0)
    encoder = factory(SPEC).eval()
    x = random_texts(6, seed=1)
    alone = torch.cat([encoder(pack([x.ids[i, : x.lengths[i]]])) for i in range(len(x))])
    together = encoder(x)
    assert together.shape == (6, encoder.output_dim)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)


def test_bert_named_sizes_and_overrides():
    for size, (depth, dim, heads) in [("tiny", SIZES["tiny"]), ("mini", SIZES["mini"])]:
        encoder = BertEncoder(SPEC, size=size)
        assert (len(encoder.blocks), encoder.output_dim, encoder.heads) == (depth, dim, heads)
    assert BertEncoder(SPEC, size="mini", depth=1, dim=64).output_dim == 64
    with pytest.raises(SelfsupError, match="size"):
        BertEncoder(SPEC, size="huge")
    with pytest.raises(SelfsupError, match="heads"):
        ENCODERS.build("bert", SPEC, dim=30, heads=4)


def test_bert_cls_pooling_reads_the_first_state():
    torch.manual_seed(0)
    encoder = BertEncoder(SPEC, pooling="cls").eval()
    x = random_texts(3)
    states, mask = encoder.token_states(x)
    torch.testing.assert_close(encoder(x), states[:, 0])
    assert torch.equal(mask, x.mask)


def test_bert_first_last_pooling_averages_the_input_embeddings_and_the_final_states():
    torch.manual_seed(0)
    encoder = BertEncoder(SPEC, pooling="first_last").eval()
    x = random_texts(3)
    first = encoder.embed_norm(encoder.token_embed(x.ids) + encoder.pos_embed[:, : x.max_length])
    states, mask = encoder.token_states(x)
    weight = mask[..., None].float()
    expected = (((first + states) / 2) * weight).sum(1) / weight.sum(1)
    torch.testing.assert_close(encoder(x), expected)
    assert not torch.allclose(encoder(x), (states * weight).sum(1) / weight.sum(1))  # not the plain mean
    with pytest.raises(ValueError, match="first_last pooling needs the input embeddings"):
        encoder.pool(states, mask)
    with pytest.raises(SelfsupError, match="mean, cls, first_last"):
        BertEncoder(SPEC, pooling="max")


def test_bert_token_contract_pads_to_max_length_and_keeps_padding_out_of_attention():
    torch.manual_seed(0)
    encoder = check_token_encoder(BertEncoder(SPEC).eval(), "mae")
    x = random_texts(4)
    assert encoder.token_grid == (SPEC.max_length,) and encoder.num_tokens == SPEC.max_length
    tokens = encoder.forward_tokens(x)
    assert tokens.shape == (4, SPEC.max_length, encoder.token_dim)
    # the texts' states are those of the unpadded batch: padding is not attended to
    states, _ = encoder.token_states(x)
    torch.testing.assert_close(tokens[:, : x.max_length][x.mask], states[x.mask], atol=1e-5, rtol=1e-4)
    # a kept set of padding only (MAE may draw it) gives finite tokens, not NaN
    kept = encoder.forward_tokens(x, keep_index=torch.arange(SPEC.max_length - 3, SPEC.max_length))
    assert torch.isfinite(kept).all()
    mask = torch.zeros(4, SPEC.max_length, dtype=torch.bool)
    mask[:, 1] = True
    masked = encoder.forward_tokens(x, mask=mask, mask_token=torch.zeros(encoder.token_dim))
    assert not torch.allclose(masked[:, 1], tokens[:, 1])


def test_bert_token_targets_are_fixed_random_codes_per_id():
    x = random_texts(4)
    a, b = BertEncoder(SPEC), BertEncoder(SPEC)
    targets = a.token_targets(x)
    assert targets.shape == (4, SPEC.max_length, a.token_target_dim)
    torch.testing.assert_close(targets, b.token_targets(x))  # rebuilt from the seed, not saved
    same = x.ids[0, 1] == x.ids  # positions holding the same id hold the same code
    assert torch.allclose(targets[:, : x.max_length][same], targets[0, 1].expand(int(same.sum()), -1))
    assert "token_codes" not in a.state_dict()
    assert not torch.allclose(BertEncoder(SPEC, target_seed=1).token_targets(x), targets)


def test_bert_refuses_a_batch_longer_than_its_spec():
    encoder = BertEncoder(SPEC)
    too_long = pack([[CLS, *range(5, 5 + SPEC.max_length), SEP]])
    with pytest.raises(SelfsupError, match="up to 24 tokens"):
        encoder(too_long)


def test_bert_masking_selects_15_percent_with_80_10_10():
    torch.manual_seed(0)
    x = random_texts(2000, low=18, high=20)
    masked, labels = ops.bert_mask(x, VOCAB)
    selected = labels != ops.IGNORE
    regular = x.regular
    assert not (selected & ~regular).any()
    assert abs(selected.sum() / regular.sum() - 0.15) < 0.005
    assert torch.equal(labels[selected], x.ids[selected])
    became_mask = (masked.ids == MASK) & selected
    unchanged = (masked.ids == x.ids) & selected
    random = selected & ~became_mask & ~unchanged
    n = selected.sum()
    assert abs(became_mask.sum() / n - 0.8) < 0.01
    # a random replacement may draw the original id (1 / 55 of the time): counted as unchanged
    assert abs(random.sum() / n - 0.1 * (1 - 1 / (VOCAB - 5))) < 0.01
    assert abs(unchanged.sum() / n - 0.1 * (1 + 1 / (VOCAB - 5))) < 0.01
    assert (masked.ids[random] >= 5).all()
    assert torch.equal(masked.ids[~selected], x.ids[~selected])


def test_bert_masking_selects_at_least_one_token_of_every_text():
    torch.manual_seed(0)
    x = random_texts(500, low=1, high=3)
    _, labels = ops.bert_mask(x, VOCAB)
    assert ((labels != ops.IGNORE).sum(1) >= 1).all()


def test_span_masking_covers_about_the_rate_in_geometric_spans():
    torch.manual_seed(0)
    x = random_texts(1000, low=20, high=20, spec=SPEC)
    masked, covered = ops.span_mask(x, prob=0.15)
    rate = covered.sum() / x.regular.sum()
    assert 0.11 < rate < 0.16  # overlaps take a little off 0.15
    assert torch.equal(masked.ids == MASK, covered)
    # spans are runs: far fewer runs than covered tokens (mean span 3.8, minus overlaps and cuts)
    starts = covered[:, 1:] & ~covered[:, :-1]
    assert covered.sum() / starts.sum() > 2.5


def test_deletion_crop_shuffle_keep_the_layout_and_the_tokens():
    torch.manual_seed(0)
    x = random_texts(200, low=1, high=20)
    deleted = ops.delete_tokens(x, 0.3)
    _layout_ok(deleted)
    assert ((deleted.lengths - 2) >= 1).all()  # never emptied
    assert abs(1 - (deleted.lengths - 2).sum() / (x.lengths - 2).sum() - 0.3) < 0.05
    cropped = ops.crop(x, (0.5, 0.5))
    _layout_ok(cropped)
    assert torch.equal(cropped.lengths - 2, torch.ceil(0.5 * (x.lengths - 2)).long())
    for i in range(20):  # a crop is a contiguous piece of its text
        piece, text = cropped.ids[i, 1 : cropped.lengths[i] - 1].tolist(), x.ids[i, 1 : x.lengths[i] - 1].tolist()
        assert any(text[s : s + len(piece)] == piece for s in range(len(text)))
    shuffled = ops.local_shuffle(x, 3.0)
    _layout_ok(shuffled)
    assert torch.equal(shuffled.lengths, x.lengths)
    assert torch.equal(shuffled.ids.sort(1).values, x.ids.sort(1).values)
    # no token moves more than distance - 1 = 2 places
    for i in range(20):
        text = x.ids[i].tolist()
        for j, token in enumerate(shuffled.ids[i, : x.lengths[i]].tolist()):
            assert token in text[max(0, j - 2) : j + 3]


def test_mask_one_span_masks_k_consecutive_tokens_and_leaves_one():
    torch.manual_seed(0)
    x = random_texts(300, low=1, high=12)
    _, covered = ops.mask_one_span(x, span=5)
    n = x.lengths - 2
    assert torch.equal(covered.sum(1), torch.minimum(torch.full_like(n, 5), n - 1))
    assert not (covered & ~ops.content(x)).any()
    runs = (covered[:, 1:] & ~covered[:, :-1]).sum(1)
    assert (runs <= 1).all()


def test_text_view_makers_are_registered_and_batched():
    batch = text_batch(32)
    (one,) = VIEWS.build("text_identity", SPEC)(batch, 1)
    assert one["x"] is batch["x"]
    a, b = VIEWS.build("text_twice", SPEC)(batch, 2)
    assert torch.equal(a["x"].ids, b["x"].ids) and torch.equal(a["index"], batch["index"])
    torch.manual_seed(0)
    v1, v2 = VIEWS.build("text_augment", SPEC, shuffle_prob=0.5)(batch, 2)
    for v in (v1, v2):
        _layout_ok(v["x"])
        assert v["x"].max_length == int(v["x"].lengths.max())
    assert not torch.equal(v1["x"].ids, v2["x"].ids[:, : v1["x"].max_length])
    assert isinstance(VIEWS.build("text_augment", SPEC), TextAugment)
    assert isinstance(VIEWS.build("text_twice", SPEC), TextTwice)
    assert isinstance(VIEWS.build("text_identity", SPEC), TextIdentity)
    with pytest.raises(SelfsupError, match="crop_scale"):
        VIEWS.build("text_augment", SPEC, crop_scale=[0.9, 0.5])


def test_bert_sequence_contract_zeroes_padding_and_names_the_frames():
    encoder = BertEncoder(SPEC).eval()
    x = random_texts(4)
    frames = encoder.forward_sequence(x)
    assert frames.shape == (4, x.max_length, encoder.output_dim)
    assert (frames[~x.mask] == 0).all() and (frames[x.mask].abs().sum(-1) > 0).all()
    assert torch.equal(encoder.frame_mask(x), x.mask)
    assert ENCODERS.info("bert").capabilities == ("tokens", "sequence")


def test_bert_starts_from_berts_initialisation_so_the_tokens_survive_the_blocks():
    from torch import nn

    from selfsup.modalities.text.data.batch import TextSpec

    encoder = BertEncoder(TextSpec(vocab_size=500), size="tiny", dropout=0.0).eval()
    linears = [m for m in encoder.modules() if isinstance(m, nn.Linear)]
    assert linears and all(abs(float(m.weight.std()) - 0.02) < 0.004 for m in linears)
    assert all(float(m.bias.abs().max()) == 0.0 for m in linears if m.bias is not None)
    # at initialisation each position's output still points the way of its own input (token +
    # position embedding); with PyTorch's default initialisation of the blocks the cosine is ~0.07
    x = pack([[2, *range(10, 30), 3], [2, *range(200, 220), 3]])
    with torch.no_grad():
        states, mask = encoder.token_states(x)
        inputs = encoder.token_embed(x.ids) + encoder.pos_embed[:, : x.max_length]
    assert float(torch.nn.functional.cosine_similarity(states, inputs, dim=-1)[mask].mean()) > 0.2


def test_bert_normalises_the_embeddings_before_the_blocks():
    from selfsup.modalities.text.data.batch import TextSpec

    x = pack([[2, *range(10, 30), 3], [2, *range(200, 210), 3]])
    for embed_norm in (True, False):
        encoder = BertEncoder(TextSpec(vocab_size=500), size="tiny", dropout=0.0, embed_norm=embed_norm).eval()
        assert ("embed_norm.weight" in encoder.state_dict()) is embed_norm
        with torch.no_grad():
            before = encoder(x)
            encoder.token_embed.weight.mul_(10.0)
            encoder.pos_embed.mul_(10.0)
            after = encoder(x)
        # with the norm the blocks see the same input whatever the embeddings' scale; without it not
        assert torch.allclose(before, after, atol=1e-4) is embed_norm
    with pytest.raises(SelfsupError, match="embed_norm"):
        BertEncoder(TextSpec(vocab_size=500), embed_norm="yes")

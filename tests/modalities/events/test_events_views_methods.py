"""Event views (CoLES slices are contiguous sub-sequences of the right lengths; CL4SRec's crop,
mask and reorder), encoders (shapes, padding does not change the embedding), the CoLES loss and
method (forward, backward)."""

from __future__ import annotations

import pytest
import torch

from selfsup.modality import get_modality

get_modality("events")
from selfsup.modalities.events import EventBatch, EventSpec
from selfsup.modalities.events.losses.coles import coles_loss
from selfsup.modalities.events.views.augment import mask, reorder
from selfsup.modalities.events.views.slices import RandomSlices
from selfsup.registry import ENCODERS, METHODS, VIEWS

SPEC = EventSpec(("shop",), (50,), ("amount",))


def _batch(lengths=(5, 40, 17, 1, 30)) -> EventBatch:
    """Event ``t`` of row ``b`` has category ``1 + t`` (so positions are readable back) and
    numeric value ``b``; padded with zeros."""
    lengths = torch.tensor(lengths)
    width = int(lengths.max())
    valid = torch.arange(width)[None, :] < lengths[:, None]
    categorical = ((torch.arange(width) + 1)[None, :].expand(len(lengths), -1) * valid)[..., None]
    numeric = (torch.arange(len(lengths), dtype=torch.float32)[:, None] * valid)[..., None]
    return EventBatch(categorical, numeric, torch.randn(len(lengths), width) * valid, lengths, (50,))


def test_coles_slices_are_contiguous_sub_sequences_of_the_right_lengths():
    torch.manual_seed(0)
    x = _batch()
    views = RandomSlices(SPEC, min_fraction=0.25, max_fraction=0.5, min_events=3)
    for _ in range(20):
        view = views.augment(x, 0)
        for b, length in enumerate(x.lengths.tolist()):
            size = int(view.lengths[b])
            low = min(3, length)
            assert max(low, round(0.25 * length)) <= size <= max(low, round(0.5 * length)), (length, size)
            events = view.categorical[b, :size, 0]
            assert torch.equal(events, torch.arange(int(events[0]), int(events[0]) + size))  # contiguous
            assert 1 <= int(events[0]) and int(events[-1]) <= length  # inside the sequence
            assert (view.categorical[b, size:] == 0).all() and (view.numeric[b, :size] == b).all()


def test_slices_differ_per_sample_and_per_view():
    torch.manual_seed(0)
    x = _batch((40,) * 8)
    first, second = RandomSlices(SPEC)(({"x": x}), 2)
    assert len(set(first["x"].categorical[:, 0, 0].tolist())) > 1
    assert not torch.equal(first["x"].categorical[:, 0], second["x"].categorical[:, 0])


def test_cl4srec_mask_and_reorder_keep_length_and_change_what_they_say():
    torch.manual_seed(0)
    x = _batch()
    masked = mask(x, 0.5)
    assert torch.equal(masked.lengths, x.lengths)
    assert ((masked.categorical[..., 0] == 0) & x.mask).sum(1).tolist() == [2, 20, 8, 0, 15]
    shuffled = reorder(x, 0.5)
    for b, length in enumerate(x.lengths.tolist()):
        events = shuffled.categorical[b, :length, 0]
        assert sorted(events.tolist()) == list(range(1, length + 1))  # a permutation of the events
        moved = (events != torch.arange(1, length + 1)).nonzero().flatten()
        if len(moved):  # only inside one contiguous segment of floor(0.5 T) events
            assert int(moved[-1] - moved[0]) < length // 2


def test_event_augment_views_have_valid_lengths_and_padding():
    torch.manual_seed(0)
    x = _batch()
    for view in VIEWS.build("event_augment", SPEC)({"x": x}, 3):
        v = view["x"]
        assert (v.lengths >= 1).all() and (v.lengths <= x.lengths).all()
        assert (v.categorical[~v.mask] == 0).all()


@pytest.mark.parametrize("name, options", [("event_gru", {}), ("event_gru", {"pooling": "mean"}),
                                           ("event_transformer", {"dropout": 0.0})])
def test_encoder_output_ignores_the_padding(name, options):
    torch.manual_seed(0)
    encoder = ENCODERS.build(name, SPEC, **options).eval()
    x = _batch()
    wider = EventBatch(*(torch.nn.functional.pad(t, (0, 0, 0, 7)) if t.dim() == 3 else
                         torch.nn.functional.pad(t, (0, 7)) for t in (x.categorical, x.numeric, x.delta)),
                       x.lengths, x.cardinalities)
    out = encoder(x)
    assert out.shape == (5, encoder.output_dim)
    assert torch.allclose(out, encoder(wider), atol=1e-5)


def test_coles_loss_is_zero_for_collapsed_positives_and_separated_entities():
    centres = torch.eye(4) * 2.0  # pairwise distance 2.83 > margin
    z = centres.repeat(3, 1)
    assert coles_loss(z, torch.arange(4).repeat(3), margin=0.5) == 0
    assert coles_loss(z, torch.arange(4).repeat(3), margin=5.0) > 0  # negatives within the margin
    spread = z + 0.1 * torch.randn_like(z)
    assert coles_loss(spread, torch.arange(4).repeat(3), margin=0.5) > 0


def test_coles_loss_uses_the_hardest_negatives():
    z = torch.tensor([[0.0, 0.0], [0.0, 0.1], [0.2, 0.0], [3.0, 0.0]])
    groups = torch.tensor([0, 0, 1, 2])
    # anchor 0: positive at 0.1, hardest negative at 0.2 (the one at 3 is past the margin)
    one = coles_loss(z, groups, margin=0.5, negatives=1)
    two = coles_loss(z, groups, margin=0.5, negatives=2)
    assert one > 0 and two < one  # a second, easy negative adds a zero term to the mean


def test_coles_trains_the_encoder_forward_and_backward():
    torch.manual_seed(0)
    encoder = ENCODERS.build("event_gru", SPEC, hidden_dim=16)
    method = METHODS.build("coles", encoder, VIEWS.build("coles_slices", SPEC), num_views=3)
    batch = {"x": _batch(), "index": torch.arange(5)}
    optimizer = torch.optim.Adam(method.parameters(), lr=0.01)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        out = method(batch)
        out["loss"].backward()
        optimizer.step()
        losses.append(float(out["loss"].detach()))
    assert all(torch.isfinite(torch.tensor(losses))) and "positive_distance" in out
    assert losses[-1] < losses[0]
    assert method.embed(batch).shape == (5, 16)

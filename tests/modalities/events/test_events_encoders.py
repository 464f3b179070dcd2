"""The event encoders' step contract: ``forward_steps`` agrees with the pooled output, and a causal
encoder's step ``t`` does not see later events."""

import torch

from selfsup.modalities.events.data.batch import EventBatch, EventSpec
from selfsup.modalities.events.encoders.sequence import EventGRU, EventTransformer

SPEC = EventSpec(("a",), (5,), ("n",))
LENGTHS = torch.tensor([9, 3, 1, 5, 0, 7])


def batch() -> EventBatch:
    torch.manual_seed(0)
    b, width = len(LENGTHS), int(LENGTHS.max())
    valid = torch.arange(width)[None] < LENGTHS[:, None]
    return EventBatch(torch.randint(1, 5, (b, width, 1)) * valid[..., None], torch.randn(b, width, 1) * valid[..., None],
                      torch.randn(b, width) * valid, LENGTHS, (5,))


def test_gru_steps_end_in_the_pooled_last_state_and_are_zero_on_padding():
    x, gru = batch(), EventGRU(SPEC, hidden_dim=8)
    steps = gru.forward_steps(x)
    assert steps.shape == (len(LENGTHS), int(LENGTHS.max()), gru.step_dim)
    last = (LENGTHS - 1).clamp(min=0)
    nonempty = LENGTHS > 0
    assert torch.allclose(steps[torch.arange(len(LENGTHS)), last][nonempty], gru(x)[nonempty], atol=1e-6)
    assert steps[~x.mask].abs().max() == 0


def test_causal_transformer_steps_ignore_later_events_and_bidirectional_ones_do_not():
    x = batch()
    later = EventBatch(x.categorical.clone(), x.numeric.clone(), x.delta.clone(), x.lengths, x.cardinalities)
    later.numeric[0, 5:] += 10.0
    causal = EventTransformer(SPEC, d_model=8, heads=2, causal=True, pooling="last").eval()
    assert torch.allclose(causal.forward_steps(x)[0, :5], causal.forward_steps(later)[0, :5], atol=1e-5)
    assert not torch.allclose(causal.forward_steps(x)[0, 5:], causal.forward_steps(later)[0, 5:])
    both = EventTransformer(SPEC, d_model=8, heads=2).eval()
    assert not torch.allclose(both.forward_steps(x)[0, :5], both.forward_steps(later)[0, :5])

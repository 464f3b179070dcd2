"""The FIFO queue of MoCo / NNCLR: order, wrapping, detachment, checkpointing."""

from __future__ import annotations

import pytest
import torch

from selfsup.nn.queue import Queue


def _rows(start: int, count: int, dim: int = 2) -> torch.Tensor:
    """Rows whose entries are their running number, so the queue's content is readable."""
    return torch.arange(start, start + count, dtype=torch.float32)[:, None].repeat(1, dim)


def test_queue_starts_empty_and_hands_out_only_filled_slots():
    queue = Queue(size=5, dim=2)
    assert len(queue) == 0 and queue.values().shape == (0, 2)
    queue.enqueue(_rows(0, 3))
    assert len(queue) == 3
    torch.testing.assert_close(queue.values(), _rows(0, 3))


def test_queue_is_fifo_and_wraps_past_the_end():
    queue = Queue(size=5, dim=2)
    queue.enqueue(_rows(0, 3))  # slots 0-2
    queue.enqueue(_rows(3, 3))  # 3, 4 fill slots 3-4; 5 wraps to slot 0, evicting 0
    assert len(queue) == 5 and int(queue.pointer) == 1
    torch.testing.assert_close(queue.items[:, 0], torch.tensor([5.0, 1.0, 2.0, 3.0, 4.0]))
    queue.enqueue(_rows(6, 2))  # evicts the two oldest, 1 and 2
    assert sorted(queue.values()[:, 0].tolist()) == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert int(queue.pointer) == 3


def test_queue_keeps_the_newest_keys_of_a_batch_larger_than_the_queue():
    queue = Queue(size=4, dim=2)
    queue.enqueue(_rows(0, 1))
    queue.enqueue(_rows(1, 6))
    assert sorted(queue.values()[:, 0].tolist()) == [3.0, 4.0, 5.0, 6.0]
    assert len(queue) == 4


def test_queue_stores_detached_copies_of_the_keys():
    queue = Queue(size=4, dim=2)
    keys = torch.randn(2, 2, requires_grad=True)
    queue.enqueue(keys * 2)
    assert not queue.values().requires_grad
    with torch.no_grad():
        keys.add_(1.0)  # changing the source later does not change the queue
    torch.testing.assert_close(queue.values(), (keys.detach() - 1.0) * 2)


def test_queue_is_checkpointed_with_its_position():
    queue = Queue(size=3, dim=2)
    queue.enqueue(_rows(0, 2))
    state = queue.state_dict()
    assert set(state) == {"items", "pointer", "filled"}
    restored = Queue(size=3, dim=2)
    restored.load_state_dict(state)
    assert len(restored) == 2 and int(restored.pointer) == 2
    # The restored queue continues exactly as the original does.
    queue.enqueue(_rows(2, 2))
    restored.enqueue(_rows(2, 2))
    torch.testing.assert_close(restored.items, queue.items)


def test_queue_rejects_bad_sizes_and_shapes():
    with pytest.raises(ValueError, match="size must be a positive integer"):
        Queue(size=0, dim=2)
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        Queue(size=2, dim=2.5)
    with pytest.raises(ValueError, match=r"expects keys of shape \[B, 2\]"):
        Queue(size=2, dim=2).enqueue(torch.zeros(3, 4))

"""A FIFO queue of embeddings: MoCo's dictionary of negative keys, NNCLR's support set.

MoCo (He et al. 2020, Section 3.2, "Dictionary as a queue") keeps the keys of the most recent
mini-batches: the current batch is enqueued and the oldest one dequeued, so the dictionary is
larger than a batch and its keys come from a slowly changing (momentum) encoder. NNCLR
(Dwibedi et al. 2021, Section 3.1) keeps the projections of recent batches the same way and
searches them for nearest neighbours.

Design:

* The storage is a ring buffer of fixed capacity held in *buffers*, so the queue follows
  ``.to(device)`` and is part of ``state_dict``: checkpoints save it and a resumed run
  continues with the same dictionary.
* Slots that were never written are not handed out: :meth:`Queue.values` returns only the
  filled part. (MoCo's code fills an empty queue with random unit vectors instead; those are
  meaningless negatives for the first ``K / B`` steps, and meaningless nearest neighbours for
  NNCLR.)
* :meth:`Queue.enqueue` first gathers the (detached) keys of every process, in rank order, so
  every rank holds the same queue, which is what a single process with the global batch would
  hold. A batch larger than the space left before the end of the buffer wraps around to its
  start; a batch larger than the whole queue keeps only its last ``size`` keys.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from selfsup.nn.gather import gather


class Queue(nn.Module):
    """First-in first-out queue of ``size`` vectors of width ``dim``.

    Args:
        size: capacity :math:`K` (number of keys kept).
        dim: width of each key.

    Buffers (checkpointed):
        ``items``: ``[size, dim]`` ring buffer; ``pointer``: next slot to write;
        ``filled``: number of slots written so far (at most ``size``).

    Example:
        >>> queue = Queue(size=4, dim=2)
        >>> queue.enqueue(torch.ones(3, 2))
        >>> queue.values().shape
        torch.Size([3, 2])
    """

    items: Tensor
    pointer: Tensor
    filled: Tensor

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"Queue size must be a positive integer, got {size!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"Queue dim must be a positive integer, got {dim!r}")
        self.size = size
        self.dim = dim
        self.register_buffer("items", torch.zeros(size, dim))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    def __len__(self) -> int:
        """Number of keys held (``size`` once the queue has been filled)."""
        return int(self.filled)

    def values(self) -> Tensor:
        """The keys held, ``[len(self), dim]`` (a view; no gradient).

        The rows are in slot order, not age order: a set of negatives or a support set does
        not depend on the order.
        """
        return self.items[: int(self.filled)]

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Append the keys of every process (detached), evicting the oldest ones.

        Args:
            keys: ``[B, dim]`` this process's keys; the same ``B`` on every process.
        """
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"Queue of width {self.dim} expects keys of shape [B, {self.dim}], "
                             f"got {tuple(keys.shape)}")
        keys = gather(keys.detach())  # [W * B, dim], identical on every rank
        if keys.shape[0] > self.size:  # only the newest keys fit
            keys = keys[-self.size :]
        count = keys.shape[0]
        start = int(self.pointer)
        # Ring-buffer slots, wrapping past the end back to slot 0.
        slots = (start + torch.arange(count, device=self.items.device)) % self.size
        self.items[slots] = keys.to(self.items.device, self.items.dtype)
        self.pointer.fill_((start + count) % self.size)
        self.filled.fill_(min(int(self.filled) + count, self.size))

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}"

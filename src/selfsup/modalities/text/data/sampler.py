"""Length-bucketed training order: batches of texts of similar length, so a batch padded to its
longest text wastes few positions (the bucketing of fairseq and Hugging Face's
``group_by_length``)."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch

from selfsup.engine.sampling import EpochSeededSampler

#: how many batches one chunk of the permutation holds before it is sorted by length: large enough
#: that batches are nearly length-homogeneous, small enough that a batch's texts still come from a
#: random part of the data
BATCHES_PER_CHUNK = 50


class LengthBucketSampler(EpochSeededSampler):
    """A seeded permutation per epoch (a function of ``(seed, epoch)`` alone, like
    :class:`~selfsup.engine.sampling.EpochSeededSampler`), cut into chunks of
    ``BATCHES_PER_CHUNK × batch_size`` indices, each sorted by length; the batches of the whole
    epoch are then shuffled, so long and short batches alternate at random.

    Consecutive ``batch_size`` runs of the order it yields have similar lengths. Every index comes
    exactly once per epoch. Being a RandomSampler, Lightning replaces it by a DistributedSampler
    under DDP (the bucketing is then lost, the training is not).

    Args:
        data_source: the training split (its ``len``).
        lengths: ``[N]`` the length of each sample (tokens).
        seed: the run's seed.
        batch_size: the loader's batch size.
    """

    def __init__(self, data_source: Sized, lengths: torch.Tensor, seed: int = 0, batch_size: int = 1) -> None:
        super().__init__(data_source, seed)
        if len(lengths) != len(data_source):
            raise ValueError(f"{len(lengths)} lengths for {len(data_source)} samples")
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        self.batch_size = max(int(batch_size), 1)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator)
        chunk = self.batch_size * BATCHES_PER_CHUNK
        # stable sort inside each chunk: ties keep the random order
        parts = [part[torch.sort(self.lengths[part], stable=True).indices] for part in order.split(chunk)]
        batches = torch.cat(parts).split(self.batch_size) if parts else ()
        # the last partial batch stays last: the loader drops it (drop_last), not a full one
        full = [b for b in batches if len(b) == self.batch_size]
        rest = [b for b in batches if len(b) < self.batch_size]
        shuffled = [full[i] for i in torch.randperm(len(full), generator=generator).tolist()]
        for batch in shuffled + rest:
            yield from batch.tolist()

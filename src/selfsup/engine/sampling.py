"""A shuffling sampler whose order depends only on (seed, epoch)."""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch
from torch.utils.data import RandomSampler


class EpochSeededSampler(RandomSampler):
    """RandomSampler whose permutation for epoch ``e`` is a function of ``(seed, e)``.

    Lightning calls ``set_epoch`` before each epoch, so a run resumed from an epoch-end
    checkpoint sees the same order as an uninterrupted one. Being a RandomSampler, it is
    replaced by a seeded DistributedSampler under DDP.
    """

    def __init__(self, data_source: Sized, seed: int = 0) -> None:
        super().__init__(data_source)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()

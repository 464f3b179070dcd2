"""The length-bucketed training order: deterministic per (seed, epoch), every index once,
length-homogeneous batches; and the engine's loader uses it."""

from __future__ import annotations

import torch

from selfsup.modalities.text.data.sampler import BATCHES_PER_CHUNK, LengthBucketSampler


def sampler(n: int = 1000, seed: int = 0, batch_size: int = 8) -> LengthBucketSampler:
    lengths = torch.randint(3, 129, (n,), generator=torch.Generator().manual_seed(1))
    return LengthBucketSampler(range(n), lengths, seed, batch_size)


def test_order_depends_only_on_seed_and_epoch():
    a, b = sampler(), sampler()
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b)
    b.set_epoch(4)
    assert list(a) != list(b)
    assert list(sampler(seed=1)) != list(sampler(seed=0))


def test_every_index_exactly_once():
    for n, batch_size in ((1000, 8), (37, 5), (3, 8)):
        assert sorted(sampler(n, batch_size=batch_size)) == list(range(n))


def test_batches_are_length_homogeneous():
    s = sampler(n=4000, batch_size=16)
    order = torch.tensor(list(s))
    batches = s.lengths[order][: len(order) // 16 * 16].reshape(-1, 16).float()
    spread = (batches.max(1).values - batches.min(1).values).mean()
    random = s.lengths[torch.randperm(4000)][:3984].reshape(-1, 16).float()
    random_spread = (random.max(1).values - random.min(1).values).mean()
    # a chunk of 50 batches sorted by length: each batch spans ~1/50 of the length range
    assert spread < random_spread / 10, (spread, random_spread)
    # and the batches of one chunk are not served in length order
    means = batches.mean(1)[:BATCHES_PER_CHUNK]
    assert not torch.equal(means, means.sort().values)


def test_engine_loader_asks_the_source_for_its_sampler():
    from selfsup.engine.trainer import train_loader
    from selfsup.modalities.text.data.source import text_source

    source = text_source([f"text number {i} " + "word " * (i % 17) for i in range(200)], vocab_size=60)
    loader = train_loader(source, batch_size=10, seed=0, num_workers=0)
    assert isinstance(loader.sampler, LengthBucketSampler) and loader.sampler.batch_size == 10
    batch = next(iter(loader))
    assert batch["x"].ids.shape[0] == 10 and "y" not in batch

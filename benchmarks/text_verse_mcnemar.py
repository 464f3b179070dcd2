"""Is a ``bible_verses`` run's verse retrieval really ahead of its random-init encoder's?

    OMP_NUM_THREADS=1 python benchmarks/text_verse_mcnemar.py RUN_DIR [RUN_DIR ...]

For each finished ``bible_verses`` run and its random-init encoder (rebuilt from ``encoder.json``
with the run's seed), finds, for each of the test verses that ``BibleSource.label_free_scores``
retrieves (the same 5,000 and the same 10,000 training texts for the whitening), whether each
encoder ranks the partner first (R@1), raw and whitened, in both directions. Prints both R@1, the
number of queries only one encoder gets right, and the exact two-sided McNemar p-value on them
(binomial, p = 1/2).
"""

from __future__ import annotations

from math import comb
from pathlib import Path

import torch
from _text_runs import run_dirs, run_with_random_init
from torch.utils.data import Subset

from selfsup.engine.evaluation import embed_split
from selfsup.eval.retrieval import fit_whitening, partner_ranks


def mcnemar(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value of ``only_a`` against ``only_b`` discordant pairs."""
    n = only_a + only_b
    return min(1.0, 2 * sum(comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n)


def first_hits(run: Path) -> dict[tuple[str, str, str], torch.Tensor]:
    """``{(encoder, raw|whitened, direction): [Q] bool}``: whether each query's partner ranks first."""
    source, trained, random = run_with_random_init(run)
    encoders = {"pretrained": trained, "random_init": random}
    # the verses and training texts of BibleSource.label_free_scores
    pairs = source.pairs_test
    chosen = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(0))[: source.retrieval_verses]
    pairs = pairs[chosen.sort().values]
    fitted = torch.randperm(len(source.train), generator=torch.Generator().manual_seed(0))[: 2 * source.retrieval_verses]
    hits = {}
    with torch.no_grad():
        for name, encoder in encoders.items():
            z = embed_split(encoder, source, Subset(source.test, pairs.reshape(-1).tolist()))
            mean, whiten = fit_whitening(embed_split(encoder, source, Subset(source.train, fitted.sort().values.tolist())))
            for form, e in (("raw", z), ("whitened", (z - mean) @ whiten)):
                for direction, (queries, keys) in {"kjv_web": (e[0::2], e[1::2]), "web_kjv": (e[1::2], e[0::2])}.items():
                    hits[name, form, direction] = partner_ranks(queries, keys) == 0
    return hits


def main() -> None:
    for run in run_dirs(__doc__):
        hits = first_hits(run)
        for form in ("raw", "whitened"):
            for direction in ("kjv_web", "web_kjv"):
                a, r = hits["pretrained", form, direction], hits["random_init", form, direction]
                only_a, only_r = int((a & ~r).sum()), int((~a & r).sum())
                print(f"{run.name} {form} {direction}: R@1 {a.double().mean():.4f} vs {r.double().mean():.4f}; "
                      f"only pretrained {only_a}, only random init {only_r}; McNemar p = {mcnemar(only_a, only_r):.2g}",
                      flush=True)


if __name__ == "__main__":
    main()

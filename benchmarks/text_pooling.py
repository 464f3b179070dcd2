"""Diagnostic: which read-out of a ``bert`` run retrieves verses across translations best?

    OMP_NUM_THREADS=1 python benchmarks/text_pooling.py RUN_DIR [RUN_DIR ...]

For each finished ``bible_verses`` run (and its random-init encoder, rebuilt from the run's
``encoder.json`` with the run's seed), computes the run's own label-free verse retrieval
(``BibleSource.label_free_scores``: R@1 / R@10 KJV->WEB and WEB->KJV on 5,000 test verses, raw and
whitened) with the encoder read out four ways:

- ``mean``: the mean of the final states over the text's tokens (``bert``'s default);
- ``cls``: the ``[CLS]`` state;
- ``embeddings``: the mean of the normalised input embeddings (token + position, before any block);
- ``first_last``: the mean over tokens of the average of the input embeddings and the final states
  (the "first-last average" of Su et al. 2021, BERT-whitening, and Li et al. 2020, BERT-flow,
  which find that it reads MLM models better than the last layer alone; ``bert``'s
  ``pooling="first_last"``, the default under ``mlm``).

The encoder is not changed: the read-out is swapped on the loaded module for the measurement.
Prints one line per run, encoder and read-out.
"""

from __future__ import annotations

import types

import torch
from _text_runs import run_dirs, run_with_random_init

from selfsup.modalities.text.encoders.bert import masked_mean

READOUTS = ("mean", "cls", "embeddings", "first_last")


def read_out(encoder: torch.nn.Module, how: str) -> None:
    """Replace ``encoder.forward`` by the read-out ``how`` (see the module doc)."""

    def forward(self, x):  # noqa: ANN001 - a TextBatch
        states, mask = self.token_states(x)
        if how == "mean":
            return masked_mean(states, mask)
        if how == "cls":
            return states[:, 0]
        tokens = self.embed_norm(self._embed(x.ids) + self.pos_embed[:, : x.max_length])
        if how == "embeddings":
            return masked_mean(tokens, mask)
        return masked_mean((tokens + states) / 2, mask)

    encoder.forward = types.MethodType(forward, encoder)


def main() -> None:
    for run in run_dirs(__doc__):
        source, trained, random = run_with_random_init(run)
        for label, encoder in (("pretrained", trained), ("random_init", random)):
            for how in READOUTS:
                read_out(encoder, how)
                with torch.no_grad():
                    scores = source.label_free_scores(encoder)
                shown = " ".join(f"{k.removeprefix('verse_')} {v:.3f}" for k, v in sorted(scores.items()))
                print(f"{run.name} {label} {how}: {shown}", flush=True)


if __name__ == "__main__":
    main()

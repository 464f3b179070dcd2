"""Diagnostic: does BERT's embedding LayerNorm explain why Hugging Face's untrained BERT probes
better than selfsup's untrained pre-norm ``bert``?

    OMP_NUM_THREADS=1 python benchmarks/text_embed_norm.py

Scores ``bert`` (tiny and mini) at its random initialisation on ``fortunes`` (kNN and linear probe
on the category, the run's own evaluation), as built and with a LayerNorm (weight 1, bias 0) applied
to the summed token + position embeddings before the blocks, as BERT does (Devlin et al. 2019). The
encoder itself is not changed: the norm is put in front of its blocks for this measurement only.
Prints one line per encoder.
"""

from __future__ import annotations

import torch

from selfsup.assembly import build_encoder
from selfsup.config_sections import EvalConfig
from selfsup.data import load_data
from selfsup.engine.evaluation import evaluate_encoder


def main() -> None:
    torch.set_num_threads(1)
    source = load_data("fortunes", modality="text", seed=0)
    for size in ("tiny", "mini"):
        for embed_norm in (False, True):
            encoder = build_encoder("bert", source.input_spec, {"size": size}, 0)
            if embed_norm:
                norm, blocks = torch.nn.LayerNorm(encoder.dim), encoder._blocks
                encoder._blocks = lambda tokens, attended, blocks=blocks, norm=norm: blocks(norm(tokens), attended)
            encoder.eval()
            scores, _ = evaluate_encoder(encoder, source, None, EvalConfig(), 0)
            kept = {k: round(float(v), 4) for k, v in scores.items() if k in ("knn_acc", "linear_acc", "rankme")}
            print(size, "with embedding LayerNorm" if embed_norm else "as built", kept, flush=True)


if __name__ == "__main__":
    main()

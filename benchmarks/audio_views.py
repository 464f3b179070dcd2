"""Cost of the audio views: one training step with the views made on the batch, as a ratio to the
bare encoder step on the views already made (the issue's "view throughput").

    python benchmarks/audio_views.py [--batch 64] [--steps 11]

For ``audio_augment`` and ``byol_a`` on ``spoken_words`` batches, with the default ``logmel_cnn``
(16 channels, 256 wide, as the byol_a recipe), it times, interleaved in one process, the median of:
``views`` (making two views of the batch, no autograd) and ``encoder`` (forward + backward of the
encoder on both views). It prints ``(views + encoder) / encoder``. Timings on a shared machine are
noisy; only the ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from selfsup.data import load_data
from selfsup.registry import ENCODERS, VIEWS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=11)
    args = parser.parse_args()
    torch.manual_seed(0)
    source = load_data("spoken_words")
    encoder = ENCODERS.build("logmel_cnn", source.input_spec, channels=16, hidden_dim=256)
    for name in ("audio_augment", "byol_a"):
        views = VIEWS.build(name, source.input_spec)
        view_times, encoder_times = [], []
        for _ in range(args.steps):
            batch = {"x": source.train.x[torch.randint(0, source.n_train, (args.batch,))]}
            start = time.perf_counter()
            with torch.no_grad():
                made = views(batch, 2)
            view_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            sum(encoder(v["x"]).square().mean() for v in made).backward()
            encoder_times.append(time.perf_counter() - start)
        v, e = statistics.median(view_times), statistics.median(encoder_times)
        print(f"{name:14} views {v * 1000:7.1f} ms  encoder {e * 1000:7.1f} ms  step / encoder {(v + e) / e:.2f}")


if __name__ == "__main__":
    main()

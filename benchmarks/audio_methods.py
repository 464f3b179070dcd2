"""The speech methods on ``spoken_words`` from their recipes, next to their random-init encoder:
word accuracy (the run's own metrics) and speaker accuracy (``selfsup evaluate RUN --data
spoken_words:speaker``), with the wall-clock seconds of each run.

    python benchmarks/audio_methods.py                        # hubert, wav2vec2, byol_a
    python benchmarks/audio_methods.py --methods hubert --out runs/audio-bench

Each run is ``selfsup pretrain --config configs/<method>_spoken_words.yaml`` (the recipe's
encoder, views and epochs), in a process of its own as the CLI runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["hubert", "wav2vec2", "byol_a"])
    parser.add_argument("--out", default="runs/audio-bench")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    selfsup_cli = [sys.executable, "-m", "selfsup"]
    rows = []
    for method in args.methods:
        run_dir = Path(args.out) / method
        start = time.perf_counter()
        subprocess.run([*selfsup_cli, "pretrain", "--config", str(ROOT / "configs" / f"{method}_spoken_words.yaml"),
                        "--out", str(run_dir), "--overwrite", "--no-progress"], check=True, env=env)
        seconds = time.perf_counter() - start
        subprocess.run([*selfsup_cli, "evaluate", str(run_dir), "--data", "spoken_words:speaker"], check=True,
                       env=env, stdout=subprocess.DEVNULL)
        words = json.loads((run_dir / "metrics.json").read_text())
        speakers = json.loads((run_dir / "eval_spoken_words_speaker.json").read_text())
        rows.append((method, seconds, words, speakers))
    print(f"{'method':10} {'seconds':>8} | word kNN  (random) | word linear (random) | speaker linear (random)")
    for method, seconds, words, speakers in rows:
        p, r, sp, sr = words["pretrained"], words["random_init"], speakers["pretrained"], speakers["random_init"]
        print(f"{method:10} {seconds:8.0f} | {p['knn_acc']:.3f}  ({r['knn_acc']:.3f})  | {p['linear_acc']:.3f}  "
              f"({r['linear_acc']:.3f})        | {sp['linear_acc']:.3f}  ({sr['linear_acc']:.3f})")


if __name__ == "__main__":
    main()

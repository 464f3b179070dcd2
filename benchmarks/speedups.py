"""Optional speed-ups on this machine: ``torch.compile``, channels-last and bf16 autocast.

    OMP_NUM_THREADS=1 python benchmarks/speedups.py [--steps 20] [--batch 128] [--only small_cnn ...]

For each (method, encoder, input) setting, one training step by hand — views, the method's
forward (encoder, heads, loss), backward, AdamW — in each variant, the variants' steps
interleaved in rotating order so that drifting machine load hits all alike:

  eager          float32, eager PyTorch (the default)
  compile        the encoder compiled in place (``nn.Module.compile``: what ``train.compile: true`` does)
  channels_last  the model's weights in channels-last memory format (image CNNs only:
                 what ``train.channels_last: true`` does)
  bf16           the step under ``torch.autocast(device, torch.bfloat16)`` (what
                 ``train.precision: bf16-mixed`` does through Lightning)

``--end-to-end DATA``: whole ``selfsup.pretrain`` runs (default method, encoder and epochs) with
each flag set — ``train.compile``, ``train.channels_last``, ``train.precision=bf16-mixed`` — and
without, the variants alternating for ``--repeats`` rounds: training seconds as a ratio to the
eager run of the same round, and the pretrained encoder's kNN and linear-probe accuracy (a
speed-up must not cost accuracy).

Printed: the eager step's median seconds and each variant's median as a ratio to it (< 1 is
faster), after ``--warmup`` steps each (compilation happens there and is reported separately).
Timings on a shared machine are noisy; only ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time
from pathlib import Path

import torch

from selfsup.engine.optim import build_optimizer
from selfsup.registry import ENCODERS, METHODS, VIEWS
from step_overhead import Setting, series_spec  # this folder is on the path when run as a script


SETTINGS = [
    Setting("simclr", "simclr", "small_cnn", (1, 8, 8)),
    Setting("simclr", "simclr", "resnet18", (3, 32, 32)),
    Setting("mae", "none", "vit_tiny", (3, 32, 32)),
    Setting("ts2vec", "ts2vec_crops", "dilated_cnn", (40, 1),
            encoder_options={"depth": 4, "hidden_dim": 32, "output_dim": 64}),
]


def is_image(s: Setting) -> bool:
    return len(s.input_shape) == 3


def variants(s: Setting) -> list[str]:
    return ["eager", "compile", *(["channels_last"] if is_image(s) and s.encoder != "vit_tiny" else []),
            "bf16"]


def make_step(s: Setting, variant: str, batch: int):
    """A closure running one training step of ``s`` in ``variant``, and the seconds its first call took."""
    torch.manual_seed(0)
    spec = s.input_shape if is_image(s) else series_spec(*s.input_shape)
    encoder = ENCODERS.build(s.encoder, spec, **s.encoder_options)
    views = VIEWS.build(s.views, spec)
    method = METHODS.build(s.method, encoder, views)
    if variant == "channels_last":
        method = method.to(memory_format=torch.channels_last)
    if variant == "compile":
        method.encoder.compile()
    optimizer = build_optimizer(method, "adamw", 1e-3, 1e-4, 0.9)
    data = {"x": torch.rand(batch, *s.input_shape), "index": torch.arange(batch)}
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if variant == "bf16" else contextlib.nullcontext

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            loss = method(copy.copy(data))["loss"]
        loss.backward()
        optimizer.step()
        method.on_step_end(0.5)

    start = time.perf_counter()
    step()
    return step, time.perf_counter() - start


def measure(s: Setting, batch: int, steps: int, warmup: int) -> dict[str, tuple[float, float]]:
    """``{variant: (median step seconds, first-step seconds)}``."""
    made = {name: make_step(s, name, batch) for name in variants(s)}
    for step, _ in made.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in made}
    names = list(made)
    for i in range(steps):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            made[name][0]()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), made[name][1]) for name in names}


END_TO_END = {
    "eager": [],
    "compile": ["train.compile=true"],
    "channels_last": ["train.channels_last=true"],
    "bf16": ["train.precision=bf16-mixed"],
}


def end_to_end(data: str, method: str, repeats: int, chosen: list[str]) -> None:
    """Whole runs with each speed-up flag, alternating; ratios within a round."""
    import json
    import tempfile

    import selfsup

    print("| data | method | round | variant | train s | / eager | s / epoch | kNN | linear |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|")
    for round_ in range(repeats):
        eager_s = None
        for name in chosen:
            with tempfile.TemporaryDirectory() as out:
                selfsup.pretrain(method=method, data=data, out=out, progress=False, overwrite=True,
                                 overrides=["eval.every_n_epochs=0", *END_TO_END[name]])
                metrics = json.loads((Path(out) / "metrics.json").read_text())
            seconds = metrics["train_seconds"]
            eager_s = seconds if name == "eager" else eager_s
            ratio = f"{seconds / eager_s:.2f}" if eager_s else "–"
            print(f"| {data} | {method} | {round_ + 1} | {name} | {seconds:.1f} | {ratio} | {metrics['seconds_per_epoch']:.2f} "
                  f"| {metrics['pretrained']['knn_acc']:.3f} | {metrics['pretrained']['linear_acc']:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--only", nargs="*", help="settings whose method or encoder is named here")
    parser.add_argument("--end-to-end", metavar="DATA", help="whole runs on this built-in data set instead")
    parser.add_argument("--method", default="simclr", help="with --end-to-end")
    parser.add_argument("--repeats", type=int, default=2, help="with --end-to-end")
    parser.add_argument("--variants", nargs="*", default=list(END_TO_END), help="with --end-to-end")
    args = parser.parse_args()
    if args.end_to_end:
        end_to_end(args.end_to_end, args.method, args.repeats, ["eager", *[v for v in args.variants if v != "eager"]])
        return
    chosen = [s for s in SETTINGS if not args.only or s.method in args.only or s.encoder in args.only]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
          f"{args.steps} interleaved steps after {args.warmup} warm-up\n")
    print("| method / encoder [input] | eager s | compile / eager | channels-last / eager | bf16 / eager "
          "| compile: first step s |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in chosen:
        m = measure(s, args.batch, args.steps, args.warmup)
        base = m["eager"][0]
        cell = lambda name: f"{m[name][0] / base:.2f}" if name in m else "–"  # noqa: E731
        print(f"| {s.label} | {base:.4f} | {cell('compile')} | {cell('channels_last')} | {cell('bf16')} "
              f"| {m['compile'][1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()

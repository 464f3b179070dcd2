"""Framework overhead of one SimCLR training step, as a ratio to the bare encoder.

    python benchmarks/step_overhead.py [--steps 20] [--batch 128]

For each encoder setting it times, on the same batch, in the same process, interleaved:
  bare-B    encoder forward+backward on the B input samples (the baseline)
  bare-2B   encoder forward+backward on 2B samples (SimCLR encodes two views: the inherent cost)
  method    SimCLR step by hand: views + encoder + projector + NT-Xent + backward + AdamW step
  engine    the same step through selfsup's LightningModule inside a Lightning Trainer
and prints median seconds and the ratios to bare-B. Timings on shared machines are noisy;
only the ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import statistics
import time

import lightning as L
import torch

from selfsup.data import ArrayDataset, collate_batch
from selfsup.engine.module import SelfSupervisedModule
from selfsup.engine.optim import build_optimizer
from selfsup.registry import ENCODERS, METHODS, VIEWS


def timed(fn, steps: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


class StepTimer(L.Callback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_batch_start(self, *args) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, *args) -> None:
        self.times.append(time.perf_counter() - self.start)


def measure(encoder_name: str, encoder_kwargs: dict, input_shape: tuple, batch: int, steps: int) -> dict:
    torch.manual_seed(0)
    x = torch.rand(batch, *input_shape)
    encoder = ENCODERS.build(encoder_name, input_shape, **encoder_kwargs)
    views = VIEWS.build("simclr", input_shape)
    method = METHODS.build("simclr", encoder, views)
    optimizer = build_optimizer(method, "adamw", 1e-3, 1e-4, 0.9)
    x2 = torch.cat([x, x])

    def bare(inputs):
        def step():
            encoder.zero_grad(set_to_none=True)
            encoder(inputs).sum().backward()
        return step

    def method_step():
        optimizer.zero_grad(set_to_none=True)
        method({"x": x})["loss"].backward()
        optimizer.step()

    results = {"bare-B": [], "bare-2B": [], "method": []}
    for _ in range(3):  # interleave so drifting machine load hits all alike
        results["bare-B"] += timed(bare(x), steps // 3)
        results["bare-2B"] += timed(bare(x2), steps // 3)
        results["method"] += timed(method_step, steps // 3)

    timer = StepTimer()
    module = SelfSupervisedModule(method, total_steps=steps + 1)
    loader = torch.utils.data.DataLoader(
        ArrayDataset(x.repeat(steps + 1, *[1] * len(input_shape))), batch_size=batch, collate_fn=collate_batch
    )
    trainer = L.Trainer(
        max_steps=steps + 1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[timer], accelerator="cpu", devices=1,
    )
    trainer.fit(module, loader)
    results["engine"] = timer.times[1:]
    return {k: statistics.median(v) for k, v in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=21)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    settings = [
        ("small_cnn", {}, (1, 8, 8)),
        ("resnet18", {}, (3, 32, 32)),
    ]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, {args.steps} steps\n")
    print("| encoder | input | bare-B s | bare-2B / bare-B | method / bare-B | engine / bare-B | engine / bare-2B |")
    print("|---|---|---|---|---|---|---|")
    for name, kwargs, shape in settings:
        m = measure(name, kwargs, shape, args.batch, args.steps)
        base = m["bare-B"]
        print(f"| {name} | {list(shape)} | {base:.4f} | {m['bare-2B'] / base:.2f} | {m['method'] / base:.2f} "
              f"| {m['engine'] / base:.2f} | {m['engine'] / m['bare-2B']:.2f} |", flush=True)


if __name__ == "__main__":
    main()

"""selfsup's ``clip_loss`` and ``siglip_loss`` side by side with open_clip's ``ClipLoss`` and
``SigLipLoss``: the same values and gradients, and the time of one loss step.

    OMP_NUM_THREADS=1 /work/hf-venv/bin/python benchmarks/clip_loss_peers.py

open_clip (``open-clip-torch``) is a benchmark-only dependency, installed in the benchmark
environment without its dependencies so that torch stays the library's
(``pip install --no-deps open-clip-torch ftfy timm wcwidth``; ``regex``, ``huggingface_hub``,
``safetensors`` and ``tqdm`` were already there).

What is held equal: the same fixed random ``[B, 512]`` float32 embeddings of two modalities, the
same scale :math:`t` (``1 / 0.07``, CLIP's initial value, as a tensor with gradient) and, for
SigLIP, the paper's :math:`t = 10`, :math:`b = -10`. open_clip's losses take embeddings that its
models have already l2-normalised and an exponentiated ``logit_scale``; selfsup's normalise
inside. So the open_clip side is given ``F.normalize`` of the raw embeddings, and its step
includes that normalisation: both steps go from the raw embeddings to the gradients w.r.t. the raw
embeddings, the scale and the bias. Both run single-process (open_clip with ``world_size=1``).

What differs: on one process selfsup's ``clip_loss`` takes the b -> a logits as the transpose of
the a -> b ones, where open_clip's ``ClipLoss`` multiplies a second ``[B, D] x [D, B]`` matrix
(distributed, selfsup needs the second product too: its anchors are local, its candidates global).
The values agree to float rounding either way.

A step is forward + backward. The two libraries alternate step by step (the order flips every
repeat) after one warm-up step each, so a change of load on the shared machine hits both; the
table gives the median of the repeats.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss, SigLipLoss

from selfsup.losses.clip import clip_loss, siglip_loss

DIM = 512
REPEATS = {256: 100, 4096: 7}
CLIP_SCALE, SIGLIP_SCALE, SIGLIP_BIAS = 1 / 0.07, 10.0, -10.0


def _inputs(batch: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Fixed raw embeddings (paired: b is a noisy a), the scale and the bias, all leaves."""
    g = torch.Generator().manual_seed(batch)
    za = torch.randn(batch, DIM, generator=g, dtype=dtype)
    zb = za + 2.0 * torch.randn(batch, DIM, generator=g, dtype=dtype)
    return {
        "za": za.requires_grad_(),
        "zb": zb.requires_grad_(),
        "scale": torch.tensor(CLIP_SCALE, dtype=dtype, requires_grad=True),
        "siglip_scale": torch.tensor(SIGLIP_SCALE, dtype=dtype, requires_grad=True),
        "bias": torch.tensor(SIGLIP_BIAS, dtype=dtype, requires_grad=True),
    }


def _steps() -> dict[str, dict[str, callable]]:
    open_clip_loss, open_siglip_loss = ClipLoss(), SigLipLoss()
    return {
        "clip": {
            "selfsup": lambda x: clip_loss(x["za"], x["zb"], x["scale"]),
            "open_clip": lambda x: open_clip_loss(
                F.normalize(x["za"], dim=1), F.normalize(x["zb"], dim=1), x["scale"]
            ),
        },
        "siglip": {
            "selfsup": lambda x: siglip_loss(x["za"], x["zb"], x["siglip_scale"], x["bias"]),
            "open_clip": lambda x: open_siglip_loss(
                F.normalize(x["za"], dim=1), F.normalize(x["zb"], dim=1), x["siglip_scale"],
                x["bias"],
            ),
        },
    }


def _loss_and_grads(step, x: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    for tensor in x.values():
        tensor.grad = None
    loss = step(x)
    loss.backward()
    return loss.detach(), {name: t.grad.clone() for name, t in x.items() if t.grad is not None}


def max_differences(step_a, step_b, x: dict[str, torch.Tensor]) -> tuple[float, float, float]:
    """(|loss_a - loss_b|, max |grad_a - grad_b| over every input, max |grad_b|)."""
    loss_a, grads_a = _loss_and_grads(step_a, x)
    loss_b, grads_b = _loss_and_grads(step_b, x)
    assert grads_a.keys() == grads_b.keys(), (grads_a.keys(), grads_b.keys())
    grad_difference = max((grads_a[k] - grads_b[k]).abs().max().item() for k in grads_a)
    grad_size = max(grads_b[k].abs().max().item() for k in grads_b)
    return (loss_a - loss_b).abs().item(), grad_difference, grad_size


def median_step_seconds(steps: dict[str, callable], x: dict[str, torch.Tensor], repeats: int) -> dict[str, float]:
    """Median seconds of forward + backward per library, the libraries interleaved."""
    names = list(steps)
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm-up
        _loss_and_grads(steps[name], x)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            started = time.perf_counter()
            _loss_and_grads(steps[name], x)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    torch.set_num_threads(1)
    steps = _steps()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, D = {DIM}, float32\n")
    print("| loss | batch | selfsup ms | open_clip ms | selfsup / open_clip "
          "| max abs diff loss | max abs diff grads (max abs grad) | float64: loss, grads |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for batch, repeats in REPEATS.items():
        x = _inputs(batch, torch.float32)
        x64 = _inputs(batch, torch.float64) if batch <= 256 else None
        for loss_name, pair in steps.items():
            loss_diff, grad_diff, grad_size = max_differences(pair["selfsup"], pair["open_clip"], x)
            exact = "-"
            if x64 is not None:
                loss64, grad64, _ = max_differences(pair["selfsup"], pair["open_clip"], x64)
                exact = f"{loss64:.1e}, {grad64:.1e}"
            seconds = median_step_seconds(pair, x, repeats)
            print(f"| {loss_name} | {batch} | {1e3 * seconds['selfsup']:.1f} "
                  f"| {1e3 * seconds['open_clip']:.1f} "
                  f"| {seconds['selfsup'] / seconds['open_clip']:.2f} "
                  f"| {loss_diff:.1e} | {grad_diff:.1e} ({grad_size:.1e}) | {exact} |", flush=True)
    print(f"\nmedian of {', '.join(f'{r} (batch {b})' for b, r in REPEATS.items())} interleaved "
          "steps after one warm-up step each; float64 columns at batch 256 only")


if __name__ == "__main__":
    main()

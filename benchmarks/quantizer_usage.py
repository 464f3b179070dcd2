"""Codebook usage of each quantiser after brief training (issue 15, "no collapse").

Each quantiser of ``selfsup.nn.quantizers`` sits in the bottleneck of a small autoencoder on the
built-in ``digits`` (1,797 real 8x8 digits as 64-pixel vectors, scaled to [0, 1]): an MLP maps a
digit to 4 latent vectors of 16 dimensions, each quantised, and an MLP decodes them. After
``--steps`` Adam steps the whole set is quantised in evaluation mode and the table gives, per
codebook (groups and stages averaged), the share of entries used and the perplexity of their
use, next to the reconstruction error. TOTEM (the ``totem`` method with the recipe's encoder:
F = 4, K = 256, D = 64) is trained on ``ucr:GunPoint``'s 50 training series and measured on all
200, with and without dead-code restarts.

    python benchmarks/quantizer_usage.py [--steps 400] [--totem-steps 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

from selfsup.nn.fsq import FiniteScalarQuantizer
from selfsup.nn.quantizers import (
    GumbelVectorQuantizer,
    ProductQuantizer,
    ResidualVectorQuantizer,
    VectorQuantizer,
)
from selfsup.units.metrics import usage_and_perplexity

TOKENS, DIM = 4, 16


def quantizers(steps: int) -> dict[str, tuple[nn.Module, int]]:
    """name -> (quantiser of [.., DIM] vectors, entries per codebook)."""
    return {
        "VQ, EMA + restarts": (VectorQuantizer(64, DIM), 64),
        "VQ, EMA, no restarts": (VectorQuantizer(64, DIM, restart_after=None), 64),
        "VQ, codebook loss, no restarts, random init": (
            VectorQuantizer(64, DIM, ema=False, restart_after=None, init_from_data=False), 64),
        "Gumbel VQ (G=2, V=64)": (GumbelVectorQuantizer(DIM, DIM, groups=2, entries=64,
                                                       tau_decay=0.25 ** (1 / steps)), 64),
        "product VQ (G=2, K=64)": (ProductQuantizer(64, DIM, groups=2), 64),
        "residual VQ (4 stages, K=64)": (ResidualVectorQuantizer(64, DIM, stages=4), 64),
        "FSQ (levels 4,4,4)": (FiniteScalarQuantizer([4, 4, 4], dim=DIM), 64),
    }


def train_autoencoder(quantizer: nn.Module, x: torch.Tensor, steps: int, seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    encoder = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, TOKENS * DIM))
    decoder = nn.Sequential(nn.Linear(TOKENS * quantizer.output_dim, 128), nn.ReLU(), nn.Linear(128, 64))
    parameters = [*encoder.parameters(), *decoder.parameters(), *quantizer.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        batch = x[torch.randint(0, len(x), (256,), generator=generator)]
        if hasattr(quantizer, "anneal"):
            quantizer.anneal(step)
        quantized, _, aux = quantizer(encoder(batch).view(-1, TOKENS, DIM))
        loss = (decoder(quantized.flatten(1)) - batch).pow(2).mean() + aux["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    quantizer.eval()
    with torch.no_grad():
        quantized, codes, _ = quantizer(encoder(x).view(-1, TOKENS, DIM))
        error = (decoder(quantized.flatten(1)) - x).pow(2).mean().item()
    return {"codes": codes, "mse": error}


def codebook_stats(codes: torch.Tensor, entries: int, grouped: bool) -> tuple[float, float]:
    """Usage and perplexity per codebook (the last axis of grouped codes), averaged."""
    codes = codes.numpy()
    books = [codes[..., g] for g in range(codes.shape[-1])] if grouped else [codes]
    stats = np.array([usage_and_perplexity(book.ravel(), entries) for book in books])
    return float(stats[:, 0].mean()), float(stats[:, 1].mean())


def totem_row(steps: int, restart_after: int, seed: int) -> tuple[float, float, int, float]:
    """TOTEM (the ``totem`` method, the recipe's encoder) trained ``steps`` Adam steps of batch 16
    on GunPoint's training series; usage, perplexity and the masked reconstruction error (of the
    normalised series) over all 200 series."""
    from selfsup.data import load_data
    from selfsup.registry import ENCODERS, METHODS, VIEWS

    torch.manual_seed(seed)
    source = load_data("ucr:GunPoint", modality="timeseries")
    shape = source.input_spec
    encoder = ENCODERS.build("totem_vqvae", shape, restart_after=restart_after)
    method = METHODS.build("totem", encoder, VIEWS.build("none", shape))
    train = torch.cat([b["x"] for b in source.loader(source.train, 64)])
    every = torch.cat([train, *[b["x"] for b in source.loader(source.test, 64)]])
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        out = method({"x": train[torch.randint(0, len(train), (16,), generator=generator)]})
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
    method.eval()
    with torch.no_grad():
        error = method({"x": every})["reconstruction"].item()
        tokens = encoder.tokens(every)
    usage, perplexity = usage_and_perplexity(tokens[tokens >= 0].numpy(), encoder.quantizer.num_codes)
    return usage, perplexity, encoder.quantizer.num_codes, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--totem-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    x = torch.tensor(load_digits().data, dtype=torch.float32) / 16.0
    print(f"digits autoencoder, {TOKENS} latents of {DIM} dims per digit, {args.steps} steps of batch 256, seed {args.seed}")
    print("| quantiser | entries per codebook | share used | perplexity | reconstruction MSE | seconds |")
    print("|---|---|---|---|---|---|")
    for name, (quantizer, entries) in quantizers(args.steps).items():
        start = time.perf_counter()
        result = train_autoencoder(quantizer, x, args.steps, args.seed)
        grouped = result["codes"].dim() == 3
        usage, perplexity = codebook_stats(result["codes"], entries, grouped)
        print(f"| {name} | {entries} | {usage:.2f} | {perplexity:.1f} | {result['mse']:.4f} | "
              f"{time.perf_counter() - start:.0f} |")
    for restart_after in (10, 0):
        start = time.perf_counter()
        usage, perplexity, k, error = totem_row(args.totem_steps, restart_after, args.seed)
        label = f"restarts after {restart_after} idle steps" if restart_after else "no restarts"
        print(f"| TOTEM on GunPoint ({args.totem_steps} steps of 16 series), {label} | {k} | {usage:.2f} | "
              f"{perplexity:.1f} | {error:.4f} (normalised series) | {time.perf_counter() - start:.0f} |")


if __name__ == "__main__":
    main()

"""SimCLR on Fashion-MNIST, selfsup side by side with lightly, each for the same wall-clock budget.

    /work/venvs/lightly/bin/python benchmarks/vs_lightly.py lightly --budget 900 --seed 0
    /work/venvs/lightly/bin/python benchmarks/vs_lightly.py selfsup --budget 900 --seed 0
    python benchmarks/vs_lightly.py table                       # Markdown for RESULTS.md

lightly is a benchmark-only dependency, never a library one: it lives in its own virtual
environment (``python3 -m venv /work/venvs/lightly``, then ``pip install torch==2.14.1
torchvision==0.29.1 lightly`` and ``pip install -e .``), see /work/shared/PEERS.md.

What is held equal (the CPU recipe ``configs/simclr_digits.yaml`` and selfsup's defaults):

- **data**: the Fashion-MNIST train split (60,000 images, 28×28 grayscale) from the Debian
  package ``dataset-fashion-mnist``; evaluation on the official 10,000-image test split.
- **encoder**: selfsup's ``small_cnn`` (width 32, depth 3 → 128-d), built by name from the
  registry; **projector** 2-layer MLP 128 → 512 (BN, ReLU) → 128; **loss** NT-Xent, τ = 0.5.
- **optimiser**: selfsup's :func:`~selfsup.engine.optim.build_optimizer` — AdamW, lr 2e-3 for a
  batch of 256 scaled linearly with the batch, weight decay 1e-4 on weights only (not biases or
  BatchNorm); **batch** 256; linear warm-up then cosine decay to 0.
- **schedule under a budget**: the number of steps that fit a wall-clock budget is not known
  before training, so the warm-up + cosine schedule runs on *time*: the learning-rate multiplier
  at a step is ``warmup_cosine`` of the fraction of the budget already spent, with the warm-up
  taking the fraction of a default run (5 of 60 epochs). The decay ends as the budget does
  whatever the throughput. The selfsup side must use the same rule.
- **augmentations**: selfsup's ``simclr`` view maker at 28×28 (tiny-image settings): random
  resized crop scale (0.2, 1), ratio (3/4, 4/3), horizontal flip 0.5, colour jitter p 0.8 at
  strength 0.5 (brightness 0.4, contrast 0.4; saturation and hue do not apply to one channel),
  no grayscale (already gray), no blur, no solarisation. lightly's ``SimCLRTransform`` is given
  exactly these (``min_scale=0.2, cj_strength=0.5, cj_sat=0, cj_hue=0, random_gray_scale=0,
  gaussian_blur=0, normalize=None``); without normalisation its tensors lie in [0, 1], as
  selfsup's do, so both encoders are evaluated on the same raw [0, 1] images.
- **evaluation**: train and test splits embedded by the trained encoder in eval mode, no
  augmentation; weighted kNN (k = 20) and the linear probe of :mod:`selfsup.eval`.

lightly's pipeline is its documented one: a map-style dataset of PIL images whose
``transform`` is ``SimCLRTransform``, in a ``DataLoader`` with worker processes
(``num_workers=2``: the machine has 2 cores, the same 2 the training process uses), a model of
backbone + ``SimCLRProjectionHead``, ``NTXentLoss``, and a plain PyTorch training loop as in
lightly's ``examples/pytorch/simclr.py``.

Timing: the clock starts when the first training batch is requested (data read into memory,
DataLoader built) and the budget is checked before every step, so a run overshoots by at most
one step. ``images_per_s`` = training images seen (steps × batch; each image gives two views)
/ training seconds. Evaluation is not timed against the budget.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = ROOT / "benchmarks" / "vs_lightly_results.jsonl"

# The shared recipe (see the module docstring).
BATCH_SIZE = 256
NUM_WORKERS = 2  # this machine has 2 cores
TEMPERATURE = 0.5
PROJECTOR_HIDDEN_DIM = 512
PROJECTOR_DIM = 128
LR, LR_REFERENCE_BATCH, WEIGHT_DECAY, MOMENTUM = 2e-3, 256, 1e-4, 0.9
WARMUP_FRACTION = 5 / 60  # TrainConfig's warmup_epochs / epochs
KNN_K = 20
#: selfsup's ``simclr`` view maker at 28×28, in lightly's SimCLRTransform terms
LIGHTLY_TRANSFORM = {
    "input_size": 28,
    "min_scale": 0.2,
    "hf_prob": 0.5,
    "cj_prob": 0.8,
    "cj_strength": 0.5,
    "cj_bright": 0.8,
    "cj_contrast": 0.8,
    "cj_sat": 0.0,
    "cj_hue": 0.0,
    "random_gray_scale": 0.0,
    "gaussian_blur": 0.0,
    "normalize": None,
}


# ----------------------------------------------------------------------------- shared parts


def read_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fashion-MNIST's official split: uint8 ``[N, 28, 28]`` images and int64 labels."""
    from selfsup.modalities.image.data.fashion_mnist import read_fashion_mnist

    return read_fashion_mnist()


def build_encoder() -> torch.nn.Module:
    """selfsup's ``small_cnn`` at the CPU recipe's size (its defaults: width 32, depth 3)."""
    from selfsup.registry import ENCODERS

    return ENCODERS.build("small_cnn", (1, 28, 28), width=32, depth=3)


def lr_multiplier(elapsed_s: float, budget_s: float) -> float:
    """Warm-up + cosine (the engine's :func:`warmup_cosine`) on the fraction of budget spent."""
    from selfsup.engine.optim import warmup_cosine

    resolution = 100_000
    step = min(resolution - 1, int(resolution * elapsed_s / budget_s))
    return warmup_cosine(step, round(WARMUP_FRACTION * resolution), resolution)


def evaluate(encoder: torch.nn.Module, data: tuple[np.ndarray, ...]) -> dict[str, float]:
    """kNN (k = 20) and linear-probe test accuracy of ``encoder`` on raw [0, 1] images, and the
    seconds each part took (``embed_s``, ``knn_s``, ``linear_s``)."""
    from selfsup.eval import embed_tensor, knn_accuracy, linear_probe_accuracy

    x_train, y_train, x_test, y_test = data

    def embed(x: np.ndarray) -> torch.Tensor:
        images = torch.from_numpy(x).unsqueeze(1).float().div_(255)  # [N, 1, 28, 28] in [0, 1]
        return embed_tensor(encoder, images, batch_size=1024)

    start = time.perf_counter()
    train_emb, test_emb = embed(x_train), embed(x_test)
    embedded = time.perf_counter()
    knn = knn_accuracy(train_emb, y_train, test_emb, y_test, k=KNN_K)
    scored = time.perf_counter()
    # L-BFGS on 60,000 × D standardised embeddings: minutes on 2 cores, most of the evaluation
    linear = linear_probe_accuracy(train_emb, y_train, test_emb, y_test)
    return {
        "knn_acc": knn,
        "linear_acc": linear,
        "embed_s": embedded - start,
        "knn_s": scored - embedded,
        "linear_s": time.perf_counter() - scored,
    }


def seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def machine() -> dict[str, Any]:
    return {
        "torch": torch.__version__.split("+")[0],
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
    }


def record(row: dict[str, Any], results: Path) -> None:
    print(json.dumps(row))
    results.parent.mkdir(parents=True, exist_ok=True)
    with results.open("a") as out:
        out.write(json.dumps(row) + "\n")


# ----------------------------------------------------------------------------- lightly


class PILImages(torch.utils.data.Dataset):
    """Grayscale PIL images with a per-sample transform, as torchvision's FashionMNIST serves them."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Any) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        from PIL import Image

        image = Image.fromarray(self.images[index])  # uint8 [28, 28] -> mode "L"
        return self.transform(image), int(self.labels[index])


def run_lightly(budget: float, seed: int) -> dict[str, Any]:
    """Train SimCLR the lightly way for ``budget`` seconds; evaluate; return the result row."""
    import lightly
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead
    from lightly.transforms import SimCLRTransform

    from selfsup.engine.optim import build_optimizer

    seed_everything(seed)
    data = read_data()
    x_train, y_train = data[0], data[1]

    class SimCLR(torch.nn.Module):
        def __init__(self, backbone: torch.nn.Module) -> None:
            super().__init__()
            self.backbone = backbone
            self.projection_head = SimCLRProjectionHead(
                backbone.output_dim, PROJECTOR_HIDDEN_DIM, PROJECTOR_DIM
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.projection_head(self.backbone(x).flatten(start_dim=1))

    model = SimCLR(build_encoder())
    criterion = NTXentLoss(temperature=TEMPERATURE)
    base_lr = LR * BATCH_SIZE / LR_REFERENCE_BATCH
    optimizer = build_optimizer(model, "adamw", base_lr, WEIGHT_DECAY, MOMENTUM)
    dataset = PILImages(x_train, y_train, SimCLRTransform(**LIGHTLY_TRANSFORM))
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=BATCH_SIZE,
        shuffle=True,
        drop_last=True,
        num_workers=NUM_WORKERS,
        persistent_workers=True,  # no worker restart at each epoch boundary
        generator=torch.Generator().manual_seed(seed),
    )

    model.train()
    steps, losses = 0, []
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < budget:
        for (x0, x1), _ in loader:
            multiplier = lr_multiplier(elapsed, budget)
            for group in optimizer.param_groups:
                group["lr"] = base_lr * multiplier
            loss = criterion(model(x0), model(x1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            losses.append(loss.item())
            elapsed = time.perf_counter() - start
            if elapsed >= budget:
                break
    train_seconds = time.perf_counter() - start
    del loader  # stop the workers before evaluation needs the cores

    started_eval = time.perf_counter()
    scores = evaluate(model.backbone, data)
    images = steps * BATCH_SIZE
    return {
        "method": "simclr",
        "library": "lightly",
        "version": lightly.__version__,
        "budget_s": budget,
        "steps": steps,
        "epochs": round(images / len(x_train), 3),
        "images_per_s": round(images / train_seconds, 1),
        "knn_acc": round(scores["knn_acc"], 4),
        "linear_acc": round(scores["linear_acc"], 4),
        "train_s": round(train_seconds, 1),
        "eval_s": round(time.perf_counter() - started_eval, 1),
        **{key: round(scores[key], 1) for key in ("embed_s", "knn_s", "linear_s")},
        "final_loss": round(float(np.mean(losses[-20:])), 4) if losses else None,
        "seed": seed,
        "batch_size": BATCH_SIZE,
        "num_workers": NUM_WORKERS,
        **machine(),
    }


# ----------------------------------------------------------------------------- selfsup


class WallClockBudget:
    """A Lightning callback: the learning rate follows :func:`lr_multiplier` of the time spent
    (set before every step, as the lightly loop does), and training stops once ``budget``
    seconds have passed since the first batch. Counts the steps it saw."""

    def __init__(self, budget: float) -> None:
        import lightning as L

        class _Callback(L.Callback):
            def on_train_batch_start(cb, trainer, module, batch, batch_idx):
                if self.start is None:
                    self.start = time.perf_counter()
                elapsed = time.perf_counter() - self.start
                for group in trainer.optimizers[0].param_groups:
                    group["lr"] = self.base_lr * lr_multiplier(elapsed, self.budget)

            def on_train_batch_end(cb, trainer, module, outputs, batch, batch_idx):
                self.steps += 1
                self.losses.append(float(outputs["loss"]))
                self.elapsed = time.perf_counter() - self.start
                if self.elapsed >= self.budget:
                    trainer.should_stop = True

        self.callback = _Callback()
        self.budget, self.start, self.elapsed, self.steps, self.losses = budget, None, 0.0, 0, []
        self.base_lr = LR * BATCH_SIZE / LR_REFERENCE_BATCH


def run_selfsup(budget: float, seed: int) -> dict[str, Any]:
    """Train SimCLR with selfsup's documented pipeline for ``budget`` seconds; evaluate; return
    the result row (same keys as :func:`run_lightly`, ``"library": "selfsup"``).

    The built-in ``fashion_mnist`` (uint8 in memory, float on the device), selfsup's ``simclr``
    view maker (batched, per-sample parameters, in the training process: no loader workers), the
    same encoder, projector, temperature, optimiser, batch and time-based schedule, through
    ``selfsup.pretrain`` with the engine's checkpointing and metrics.csv as a user gets them. The
    scores are the run's own final evaluation, the protocol of :func:`evaluate`.
    """
    import tempfile

    import selfsup

    budget_keeper = WallClockBudget(budget)
    views = {"crop_scale": [0.2, 1.0], "hflip": 0.5, "jitter": 0.8, "jitter_strength": 0.5,
             "grayscale": 0.0, "blur": 0.0, "solarize": 0.0}
    out = Path(tempfile.mkdtemp(prefix="vs_lightly_selfsup_")) / "run"
    overrides = [
        f"method.temperature={TEMPERATURE}",
        f"method.projector_hidden_dim={PROJECTOR_HIDDEN_DIM}",
        f"method.projector_dim={PROJECTOR_DIM}",
        "encoder.width=32", "encoder.depth=3",
        f"train.lr={LR}", f"train.lr_reference_batch={LR_REFERENCE_BATCH}",
        f"train.weight_decay={WEIGHT_DECAY}",
        # the budget stops training; the epoch count only has to be out of reach
        "train.epochs=1000",
        "eval.every_n_epochs=0", "eval.random_init=false", "eval.raw_input=false",
        *[f"views.{k}={json.dumps(v)}" for k, v in views.items()],
    ]
    run = selfsup.pretrain(
        method="simclr", encoder="small_cnn", views="simclr", data="fashion_mnist", seed=seed,
        batch_size=BATCH_SIZE, out=str(out), overrides=overrides, progress=False,
        callbacks=[budget_keeper.callback],
    )
    train_seconds = budget_keeper.elapsed
    # The run's own final evaluation is this benchmark's protocol (train and test splits embedded
    # in eval mode, selfsup.eval's kNN with k = 20 and its linear probe): read it rather than fit
    # the 60,000-sample probe a second time.
    scores = run.metrics["pretrained"]
    eval_seconds = run.metrics["seconds"] - train_seconds
    images = budget_keeper.steps * BATCH_SIZE
    return {
        "method": "simclr",
        "library": "selfsup",
        "version": selfsup.__version__,
        "budget_s": budget,
        "steps": budget_keeper.steps,
        "epochs": round(images / 60_000, 3),
        "images_per_s": round(images / train_seconds, 1),
        "knn_acc": round(scores["knn_acc"], 4),
        "linear_acc": round(scores["linear_acc"], 4),
        "train_s": round(train_seconds, 1),
        "eval_s": round(eval_seconds, 1),
        "final_loss": round(float(np.mean(budget_keeper.losses[-20:])), 4) if budget_keeper.losses else None,
        "seed": seed,
        "batch_size": BATCH_SIZE,
        "num_workers": 0,
        **machine(),
    }


# ----------------------------------------------------------------------------- table


def latest_rows(results: Path) -> dict[str, dict[str, Any]]:
    """The last recorded row of each library."""
    rows: dict[str, dict[str, Any]] = {}
    if results.is_file():
        for line in results.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[row["library"]] = row
    return rows


def table(results: Path) -> str:
    """Markdown: one line per library, then the selfsup / lightly ratio where both exist."""
    rows = latest_rows(results)
    if not rows:
        return f"No results in {results}; run the `lightly` and `selfsup` sub-commands first."
    lines = [
        "| library | version | budget (s) | steps | epochs | images/s | kNN acc | linear acc |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("selfsup", "lightly", *sorted(set(rows) - {"selfsup", "lightly"})):
        if name in rows:
            r = rows[name]
            lines.append(
                f"| {name} | {r['version']} | {r['budget_s']:g} | {r['steps']} | {r['epochs']:.2f} "
                f"| {r['images_per_s']:.0f} | {r['knn_acc']:.4f} | {r['linear_acc']:.4f} |"
            )
    if "selfsup" in rows and "lightly" in rows:
        ours, theirs = rows["selfsup"], rows["lightly"]

        def ratio(key: str) -> str:
            return f"{ours[key] / theirs[key]:.2f}×" if theirs[key] else "n/a"

        lines.append(
            f"| **selfsup / lightly** | | | | | **{ratio('images_per_s')}** "
            f"| **{ratio('knn_acc')}** | **{ratio('linear_acc')}** |"
        )
    lines.append("")
    lines.append(
        "Versions: "
        + "; ".join(f"{n} {r['version']} on torch {r['torch']}, {r['cpus']} CPUs, {r['date']}" for n, r in rows.items())
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("lightly", "selfsup"):
        run = commands.add_parser(name, help=f"train and evaluate SimCLR with {name}")
        run.add_argument("--budget", type=float, default=900.0, help="training seconds (default 900)")
        run.add_argument("--seed", type=int, default=0)
        run.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    show = commands.add_parser("table", help="print the Markdown table of the latest results")
    show.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args()

    if args.command == "table":
        print(table(args.results))
        return
    if not math.isfinite(args.budget) or args.budget <= 0:
        parser.error("--budget must be a positive number of seconds")
    run_fn = run_lightly if args.command == "lightly" else run_selfsup
    record(run_fn(args.budget, args.seed), args.results)


if __name__ == "__main__":
    main()

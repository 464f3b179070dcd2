"""Every method of the catalogue on `digits` at one fixed budget, over a small learning-rate grid.

    python benchmarks/catalogue.py run                       # all methods with a digits recipe
    python benchmarks/catalogue.py run simclr dino --jobs 2   # some, two runs at a time
    python benchmarks/catalogue.py table                     # Markdown tables for RESULTS.md
    python benchmarks/catalogue.py speed                     # step time as a ratio to SimCLR

Each method trains from its recipe ``configs/<method>_digits.yaml`` with the epochs forced to
``--epochs`` (the fixed budget) and the learning rate multiplied by each factor of ``--lr-factors``
(the grid; factor 1 is the recipe itself). A run's result (kNN / linear accuracy of the pretrained
and of the random-init encoder, RankMe, α-ReQ, seconds per training epoch) is appended to
``--results`` (JSON lines) as soon as it finishes, so an interrupted benchmark continues where it
stopped. ``table`` prints

1. the catalogue table (factor 1): does each method beat its random-init encoder?
2. the label-free selection study: Spearman rank correlation of RankMe / α-ReQ with kNN and
   linear accuracy over all runs and within each method, and what choosing each method's
   learning rate by RankMe (``--select-by rankme``) costs against the best choice.

Runs use one thread each (``--jobs`` processes in parallel), because these small models do not
speed up with more threads and two multi-threaded PyTorch processes on two cores slow each other
down many times over.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _isolated import call_isolated

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = ROOT / "benchmarks" / "catalogue_results.jsonl"


def recipes() -> list[str]:
    return sorted(p.name[: -len("_digits.yaml")] for p in (ROOT / "configs").glob("*_digits.yaml"))


def _one_run(method: str, factor: float, epochs: int, seed: int, workdir: str) -> dict:
    """Train one (method, lr factor) in a fresh single-threaded process; return its metrics."""
    import selfsup
    from selfsup.config import read_yaml

    recipe = read_yaml(ROOT / "configs" / f"{method}_digits.yaml")
    lr = recipe.get("train", {}).get("lr", 2e-3) * factor
    result = selfsup.pretrain(
        recipe,
        out=str(Path(workdir) / f"{method}-{factor}-{seed}"),
        seed=seed,
        epochs=epochs,
        progress=False,
        overrides=[f"train.lr={lr}", "eval.every_n_epochs=0"],
    )
    m = result.metrics
    return {
        "method": method,
        "lr_factor": factor,
        "lr": lr,
        "epochs": epochs,
        "seed": seed,
        "encoder": m["encoder"],
        "pretrained": m["pretrained"],
        "random_init": m["random_init"],
        "seconds_per_epoch": m.get("seconds_per_epoch"),
        "date": time.strftime("%Y-%m-%d"),
    }


def _spawn(method: str, factor: float, epochs: int, seed: int, workdir: str) -> dict:
    row = call_isolated("catalogue", "_one_run", method, factor, epochs, seed, workdir)
    return {"method": method, "lr_factor": factor, "seed": seed, **row} if "error" in row else row


def run(args: argparse.Namespace) -> None:
    methods = args.methods or recipes()
    results_path = Path(args.results)
    done = set()
    if results_path.exists():
        for line in results_path.read_text().splitlines():
            row = json.loads(line)
            if "error" not in row and row.get("epochs") == args.epochs:
                done.add((row["method"], row["lr_factor"], row["seed"]))
    todo = [(m, f, s) for m in methods for f in args.lr_factors for s in args.seeds if (m, f, s) not in done]
    # The catalogue (factor 1) first for every method, then the rest of the grid.
    todo.sort(key=lambda run: (run[1] != 1.0, run[2]))
    print(f"{len(todo)} runs to do ({len(done)} already in {results_path})", flush=True)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(_spawn, m, f, args.epochs, s, tmp) for m, f, s in todo]
        for future in futures:
            row = future.result()
            with results_path.open("a") as out:
                out.write(json.dumps(row) + "\n")
            if "error" in row:
                print(f"FAILED {row['method']} x{row['lr_factor']}: {row['error']}", flush=True)
            else:
                p, r = row["pretrained"], row["random_init"]
                print(f"{row['method']:>20} x{row['lr_factor']:<4} kNN {p['knn_acc']:.3f} (rand {r['knn_acc']:.3f}) "
                      f"linear {p['linear_acc']:.3f} RankMe {p['rankme']:.1f} alpha {p['alpha_req']:.2f} "
                      f"{row['seconds_per_epoch']:.2f} s/epoch", flush=True)


def _spearman(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import spearmanr

    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 3:
        return None
    rho = spearmanr(*zip(*pairs)).statistic
    return float(rho) if math.isfinite(rho) else None


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.{digits}f}"


def table(args: argparse.Namespace) -> None:
    from selfsup.registry import METHODS

    rows = [json.loads(line) for line in Path(args.results).read_text().splitlines()]
    failed = [r for r in rows if "error" in r]
    rows = [r for r in rows if "error" not in r]
    by_method: dict[str, list[dict]] = {}
    for r in rows:
        by_method.setdefault(r["method"], []).append(r)

    print("### Catalogue on digits (recipe learning rate, fixed budget)\n")
    print("| method | family | encoder | kNN pre | kNN rand | linear pre | linear rand | RankMe | α-ReQ | s/epoch (2 runs at once) | beats rand |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for method in sorted(by_method):
        base = [r for r in by_method[method] if r["lr_factor"] == 1.0]
        if not base:
            continue
        family = METHODS.info(method).family if method in METHODS else ""

        def mean(key: str, part: str = "pretrained", runs: list[dict] = base) -> float:
            return statistics.mean(r[part][key] for r in runs)

        knn, knn_rand = mean("knn_acc"), mean("knn_acc", "random_init")
        print(f"| {method} | {family} | {base[0]['encoder']} | {knn:.3f} | {knn_rand:.3f} | {mean('linear_acc'):.3f} | "
              f"{mean('linear_acc', 'random_init'):.3f} | {mean('rankme'):.1f} | {mean('alpha_req'):.2f} | "
              f"{statistics.mean(r['seconds_per_epoch'] for r in base):.2f} | {'yes' if knn > knn_rand else '**no**'} |")

    print("\n### Label-free scores vs accuracy (Spearman rank correlation)\n")
    print("| runs | n | RankMe~kNN | RankMe~linear | −\\|α−1\\|~kNN | −\\|α−1\\|~linear | α~kNN |")
    print("|---|---|---|---|---|---|---|")

    def correlations(label: str, runs: list[dict]) -> None:
        pre = [r["pretrained"] for r in runs]
        rank = [p["rankme"] for p in pre]
        alpha = [p["alpha_req"] for p in pre]
        alpha_score = [None if a is None else -abs(a - 1) for a in alpha]
        knn = [p["knn_acc"] for p in pre]
        lin = [p["linear_acc"] for p in pre]
        print(f"| {label} | {len(runs)} | {_fmt(_spearman(rank, knn))} | {_fmt(_spearman(rank, lin))} | "
              f"{_fmt(_spearman(alpha_score, knn))} | {_fmt(_spearman(alpha_score, lin))} | {_fmt(_spearman(alpha, knn))} |")

    correlations("all runs", rows)
    small_cnn = [r for r in rows if r["encoder"] == "small_cnn"]
    if len(small_cnn) != len(rows):
        correlations("small_cnn runs only (same D)", small_cnn)
    within = {m: _spearman([r["pretrained"]["rankme"] for r in rs], [r["pretrained"]["knn_acc"] for r in rs])
              for m, rs in by_method.items()}
    values = [v for v in within.values() if v is not None]
    if values:
        print(f"\nWithin one method (its {len(args.lr_factors)} learning rates): mean Spearman RankMe~kNN "
              f"{statistics.mean(values):.3f} over {len(values)} methods "
              f"({sum(v > 0 for v in values)} positive, {sum(v < 0 for v in values)} negative).")

    print("\n### Choosing each method's learning rate without labels\n")
    print("| method | lr factors | kNN of RankMe's pick | kNN of α-ReQ's pick | best kNN | RankMe gap (pts) | α-ReQ gap (pts) |")
    print("|---|---|---|---|---|---|---|")
    gaps_rank, gaps_alpha = [], []
    for method in sorted(by_method):
        runs = by_method[method]
        if len({r["lr_factor"] for r in runs}) < 2:
            continue
        pick_rank = max(runs, key=lambda r: _finite(r["pretrained"]["rankme"]))
        pick_alpha = max(runs, key=lambda r: _finite(-abs(r["pretrained"]["alpha_req"] - 1)))
        best = max(r["pretrained"]["knn_acc"] for r in runs)
        g_rank = 100 * (best - pick_rank["pretrained"]["knn_acc"])
        g_alpha = 100 * (best - pick_alpha["pretrained"]["knn_acc"])
        gaps_rank.append(g_rank)
        gaps_alpha.append(g_alpha)
        factors = ", ".join(str(f) for f in sorted({r["lr_factor"] for r in runs}))
        print(f"| {method} | {factors} | {pick_rank['pretrained']['knn_acc']:.3f} (×{pick_rank['lr_factor']}) | "
              f"{pick_alpha['pretrained']['knn_acc']:.3f} (×{pick_alpha['lr_factor']}) | {best:.3f} | {g_rank:.2f} | {g_alpha:.2f} |")
    if gaps_rank:
        print(f"\nMean gap to the best learning rate: RankMe {statistics.mean(gaps_rank):.2f} points, "
              f"α-ReQ {statistics.mean(gaps_alpha):.2f} points (over {len(gaps_rank)} methods).")
    if failed:
        print(f"\nFailed runs: {', '.join(sorted({r['method'] for r in failed}))}")
    dates = sorted({r["date"] for r in rows})
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} cores, one thread per run; dates {', '.join(dates)}.")


def _step_seconds(method: str, steps: int = 12, warmup: int = 3) -> dict:
    """Median seconds of one training step (views + forward + backward + AdamW) of ``method``'s
    recipe on one fixed batch of 256 digits, in this (single-threaded) process."""
    import torch

    from selfsup.api import _components, build_encoder
    from selfsup.config import build_config
    from selfsup.data import load_data
    from selfsup.registry import METHODS, VIEWS

    config = build_config(str(ROOT / "configs" / f"{method}_digits.yaml"))
    bundle = load_data("digits")
    encoder_name, encoder_kwargs, views_name, views_kwargs = _components(config, bundle)
    model = METHODS.build(
        method,
        build_encoder(encoder_name, bundle.input_spec, encoder_kwargs, 0),
        VIEWS.build(views_name, bundle.input_spec, **views_kwargs),
        **config.method.kwargs,
    )
    model.prepare(int(bundle.train.x.shape[0]))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batch = {"x": bundle.train.x[:256], "index": torch.arange(256)}
    if model.uses_labels:
        batch["y"] = bundle.y_train[:256]
    times = []
    for step in range(warmup + steps):
        started = time.perf_counter()
        optimizer.zero_grad()
        model(batch)["loss"].backward()
        optimizer.step()
        model.on_step_end(step / (warmup + steps))
        times.append(time.perf_counter() - started)
    return {"method": method, "seconds_per_step": statistics.median(times[warmup:])}


def speed(args: argparse.Namespace) -> None:
    """Step time of every method as a ratio to SimCLR's, measured in the same invocation.

    One run at a time (never in parallel), SimCLR first and last: its two timings bracket the
    others, so a machine that got busier midway shows up as a drift between them.
    """
    methods = [m for m in (args.methods or recipes()) if m != "simclr"]
    rows = [call_isolated("catalogue", "_step_seconds", m) for m in ["simclr", *methods, "simclr"]]
    if any("error" in r for r in rows):
        print("FAILED:", [r for r in rows if "error" in r])
    ok = [r for r in rows if "error" not in r]
    base = statistics.mean(r["seconds_per_step"] for r in ok if r["method"] == "simclr")
    first, last = ok[0]["seconds_per_step"], ok[-1]["seconds_per_step"]
    # digits: 1437 training images, batch 256, drop_last -> 5 steps per epoch
    print("| method | s/step (batch 256) | s/epoch (5 steps) | × SimCLR |")
    print("|---|---|---|---|")
    for r in sorted(ok[1:-1], key=lambda r: r["seconds_per_step"]):
        step = r["seconds_per_step"]
        print(f"| {r['method']} | {step:.3f} | {5 * step:.2f} | {step / base:.2f} |")
    print(f"\nSimCLR: {first:.4f} s/step first, {last:.4f} s/step last (drift {100 * (last / first - 1):+.0f} %); "
          f"machine {platform.machine()}, {os.cpu_count()} cores, one thread, {time.strftime('%Y-%m-%d')}.")


def _finite(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else -math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "table", "speed"])
    parser.add_argument("methods", nargs="*")
    parser.add_argument("--epochs", type=int, default=60, help="the fixed budget for every method")
    parser.add_argument("--lr-factors", nargs="+", type=float, default=[0.25, 1.0, 4.0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", default=str(DEFAULT_RESULTS))
    args = parser.parse_args()
    {"run": run, "table": table, "speed": speed}[args.command](args)


if __name__ == "__main__":
    main()

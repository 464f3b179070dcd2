"""Does pairing modalities help each modality? CLIP-style pretraining on paired data, measured by
cross-modal retrieval and by fine-tuning each part with few labels.

    OMP_NUM_THREADS=2 python benchmarks/paired.py run --data synthetic_astro --epochs 15 \
        --methods clip,siglip,clip_simclr,clip_mv --unimodal simclr --labels 0.01,0.1,1.0 --seeds 3
    python benchmarks/paired.py table

For the data set, each paired method trains for ``--epochs`` epochs (the same steps for all, whatever
else the machine runs; ``--budget`` seconds instead sets ``train.time_budget``) and each part alone
trains the ``--unimodal`` method for as long. Then each
part's encoder is fine-tuned (``selfsup finetune --part``, encoder + linear head, early stopping on
a validation fifth of the labels) at each label fraction, ``--seeds`` times, from: the first paired
method's part encoder, the other paired methods' (at the first fraction only), the unimodal run's
encoder, and a fresh initialisation (scratch). Every finished measurement is appended to
``benchmarks/paired_results.jsonl`` (one JSON line each), and ``table`` prints the markdown tables
RESULTS.md holds.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("paired_results.jsonl")
RUNS = Path("runs/bench_paired")


def record(row: dict) -> None:
    row = {**row, "date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.node()} {platform.processor()}"}
    with RESULTS.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def length(args: argparse.Namespace) -> dict:
    return {"time_budget": f"{args.budget}s"} if args.budget else {"epochs": args.epochs}


def run(args: argparse.Namespace) -> None:
    import selfsup
    from selfsup.data import load_data
    from selfsup.eval.finetune import FinetuneConfig
    from selfsup.finetuning import finetune

    methods = args.methods.split(",")
    fractions = [float(f) for f in args.labels.split(",")]
    config = FinetuneConfig(epochs=args.ft_epochs, patience=args.ft_patience)
    source = load_data(args.data, modality="multimodal", seed=0)
    parts = source.input_spec.names
    runs = {}
    for method in methods:
        out = RUNS / f"{method}-{args.data}"
        runs[method] = out
        if args.reuse and (out / "metrics.json").is_file():  # trained (and recorded) by an earlier call
            continue
        started = time.time()
        selfsup.pretrain(method=method, data=args.data, out=str(out), progress=False, overwrite=True, **length(args))
        metrics = json.loads((out / "metrics.json").read_text())
        record({"kind": "pretrain", "data": args.data, "method": method, **length(args),
                "wall_s": round(time.time() - started, 1), "train_s": metrics.get("train_seconds"),
                "pretrained": metrics["pretrained"], "random_init": metrics["random_init"]})
    unimodal = {}
    if args.unimodal:
        for part in parts:
            out = RUNS / f"{args.unimodal}-{args.data}-{part}"
            unimodal[part] = out
            if args.reuse and (out / "metrics.json").is_file():
                continue
            started = time.time()
            selfsup.pretrain(method=args.unimodal, data=source.part(part), out=str(out), progress=False,
                             overwrite=True, **length(args))
            metrics = json.loads((out / "metrics.json").read_text())
            record({"kind": "pretrain_unimodal", "data": args.data, "part": part, "method": args.unimodal,
                    **length(args), "wall_s": round(time.time() - started, 1),
                    "pretrained": metrics["pretrained"], "random_init": metrics["random_init"]})
    for part in parts:
        for index, method in enumerate(methods):
            labels = fractions if index == 0 else fractions[:1]
            result = finetune(runs[method], labels=labels, seeds=args.seeds, scratch=index == 0, config=config,
                              part=part)
            for row in result["rows"]:
                start = method if row["start"] == "pretrained" else "scratch"
                record({"kind": "finetune", "data": args.data, "part": part, **row, "start": start})
        if part in unimodal:
            result = finetune(unimodal[part], data=source.part(part), labels=fractions, seeds=args.seeds,
                              scratch=False, config=config)
            for row in result["rows"]:
                record({"kind": "finetune", "data": args.data, "part": part, **row,
                        "start": f"{args.unimodal} ({part} alone)"})


def table(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    for data in dict.fromkeys(r["data"] for r in rows):
        mine = [r for r in rows if r["data"] == data]
        pre = [r for r in mine if r["kind"] == "pretrain"]
        if pre:
            keys = [k for k in pre[-1]["pretrained"] if k.startswith("retrieval_") and k.endswith("_class_p@1")]
            keys += [k for k in pre[-1]["pretrained"] if k.startswith("part_") and k.endswith("_linear_acc")]
            keys += ["knn_acc"]
            print(f"\n{data}: class-level retrieval P@1, each part's linear probe and the fused kNN on the test "
                  "split (pretrained; random init in the last row)\n")
            print("| method | epochs | wall s | " + " | ".join(
                k.replace("retrieval_", "").replace("_class_p@1", "").replace("_linear_acc", " probe") for k in keys) + " |")
            print("|---|---:|---:|" + "---:|" * len(keys))
            latest = {r["method"]: r for r in pre}
            for r in latest.values():
                cells = [f"{r['pretrained'].get(k, float('nan')):.3f}" for k in keys]
                print(f"| {r['method']} | {r.get('epochs', '')} | {r['wall_s']} | " + " | ".join(cells) + " |")
            first = next(iter(latest.values()))
            print("| random init | | | " + " | ".join(f"{first['random_init'].get(k, float('nan')):.3f}" for k in keys) + " |")
        fine = [r for r in mine if r["kind"] == "finetune"]
        if fine:
            print(f"\n{data}: fine-tuned test accuracy per part (mean ± std over seeds)\n")
            fractions = sorted({r["fraction"] for r in fine})
            print("| part | start | " + " | ".join(f"{f:g} labels" for f in fractions) + " |")
            print("|---|---|" + "---:|" * len(fractions))
            latest = {(r["part"], r["start"], r["fraction"]): r for r in fine}
            for part in dict.fromkeys(r["part"] for r in fine):
                for start in dict.fromkeys(r["start"] for r in fine if r["part"] == part):
                    cells = []
                    for f in fractions:
                        r = latest.get((part, start, f))
                        cells.append("—" if r is None else f"{r['mean']:.3f} ± {r['std']:.3f} ({r['labels']})")
                    print(f"| {part} | {start} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    go = sub.add_parser("run")
    go.add_argument("--data", default="synthetic_astro")
    go.add_argument("--epochs", type=int, default=15)
    go.add_argument("--budget", type=int, default=0)
    go.add_argument("--methods", default="clip,siglip,clip_simclr,clip_mv")
    go.add_argument("--unimodal", default="simclr")
    go.add_argument("--labels", default="0.01,0.1,1.0")
    go.add_argument("--seeds", type=int, default=3)
    go.add_argument("--ft-epochs", type=int, default=30)
    go.add_argument("--ft-patience", type=int, default=5)
    go.add_argument("--reuse", action="store_true", help="keep the runs an earlier call finished")
    sub.add_parser("table")
    args = parser.parse_args()
    (run if args.command == "run" else table)(args)


if __name__ == "__main__":
    main()

"""One epoch on a large synthetic_interactions set: seconds per epoch and peak memory.

    python benchmarks/interactions_scale.py                                   # 1 M x 100 k x 20 M, batch 262,144
    python benchmarks/interactions_scale.py --method bpr_mf --max-steps 200   # time 200 steps only
    python benchmarks/interactions_scale.py --users 100000 --items 20000 --interactions 2000000

Builds the data (the power-law generator of ``synthetic_interactions``, its 0.8 / 0.1 / 0.1
split and negative sampler), the encoder and the method from their registry defaults (Adam 1e-3),
then trains one epoch — the engine's own
loader (batched negative sampling in the collate) and the method's forward, backward and Adam
step — on the device given. With ``--max-steps`` it stops after that many steps and reports
the epoch time they imply (steps per epoch × mean step time), saying so. Peak resident memory
is the process's high-water mark (``ru_maxrss``), measured after the data is built and at the
end. ``--evaluate`` also runs the full-ranking evaluation of the test split in user chunks.

Why batch 262,144 here, not the modality's 2048: LightGCN propagates the whole graph at every
step, whatever the batch (1.1 M nodes × 32 M directed edges × 64 dims: 3 layers forward 4.0 s,
backward 4.1 s on one CPU thread), so the batch sets the number of propagations per epoch. At
2048 an epoch of 16 M training pairs is 7,881 of them (~18 h at ~8 s); at 262,144 it is 61.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import torch


def peak_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=20_000_000)
    parser.add_argument("--method", default="lightgcn")
    parser.add_argument("--batch-size", type=int, default=262_144)
    parser.add_argument("--max-steps", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--evaluate", action="store_true")
    args = parser.parse_args()
    from selfsup.data import load_data
    from selfsup.engine.trainer import train_loader
    from selfsup.eval import move_to
    from selfsup.registry import ENCODERS, METHODS, VIEWS

    report = {"command": "python benchmarks/interactions_scale.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v not in (False, 0)),
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.node()} {torch.get_num_threads()} threads",
        "device": args.device}
    started = time.time()
    source = load_data("synthetic_interactions", users=args.users, items=args.items, interactions=args.interactions)
    report.update(data_seconds=round(time.time() - started, 1), train_interactions=source.n_train,
                  peak_gib_after_data=peak_gib())
    torch.manual_seed(0)
    info = METHODS.info(args.method)
    encoder = ENCODERS.build(info.default_encoder, source.input_spec)
    method = METHODS.build(args.method, encoder, VIEWS.build("none", source.input_spec)).to(args.device)
    method.prepare(source.n_train)
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-3)
    loader = train_loader(source, args.batch_size, seed=0, num_workers=0)
    steps_per_epoch = len(loader)
    steps, started = 0, time.time()
    for batch in loader:
        batch = move_to(batch, torch.device(args.device))
        loss = method(batch)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps += 1
        if args.max_steps and steps >= args.max_steps:
            break
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
        report["cuda_peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    seconds = time.time() - started
    report.update(method=args.method, steps=steps, steps_per_epoch=steps_per_epoch,
                  seconds_per_step=round(seconds / steps, 4), loss=round(float(loss), 4),
                  seconds_per_epoch=round(seconds / steps * steps_per_epoch, 1),
                  epoch="measured" if steps == steps_per_epoch else f"extrapolated from {steps} steps",
                  peak_gib=peak_gib())
    if args.evaluate:
        from selfsup.eval.recommendation import embedding_scorer, ranking_metrics

        started = time.time()
        with torch.no_grad():
            tables = [t.cpu() for t in method.encoder.user_item_embeddings()]
        report["test"] = ranking_metrics(embedding_scorer(*tables), source.recommendation, "test")
        report.update(evaluation_seconds=round(time.time() - started, 1), peak_gib=peak_gib())
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

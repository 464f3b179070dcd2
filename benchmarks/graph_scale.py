"""Memory and speed of node-level pretraining on sampled neighbourhoods (``data.options.neighbors``)
on a generated graph of 2 M nodes / 20 M edges, against a 200,000-node control.

    python benchmarks/graph_scale.py --steps 200 --batch-size 512 --neighbors 10 10

Each graph runs in its own process: generate ``sbm_citation(num_nodes=N, mean_degree=10,
features="gaussian", num_features=32)`` and wrap it with
:func:`~selfsup.modalities.graph.data.source.node_source` (``neighbors``: the CSR is built once),
then ``selfsup.pretrain(data=source, method="grace", encoder="gcn")`` with hidden and output
width 64, no online monitors and no random-init / raw-input evaluation. A callback stops
training after ``--steps`` steps of ``--batch-size`` seed nodes (the samples are the graph's
nodes, so a full epoch over 2 M nodes is ~3,900 steps); the final evaluation then embeds every
node once through the same sampler (train split, then the 1,000 test nodes) and fits the probes,
unless ``--skip-eval``.

Memory (``ru_maxrss``, the kernel's high-water mark; the mark is reset between phases by writing
5 to ``/proc/self/clear_refs``, so each phase's peak is its own):

- ``data``: peak while generating the graph and building the source (the generator's temporary
  arrays), and the resident memory when it is done (the graph: features, CSR, labels);
- ``train``: peak from the start of ``pretrain`` to the end of training;
- ``eval``: peak of the final evaluation (all N embeddings, probes).

If sampling kept memory flat, ``train peak - resident after data`` is about the same for the two
graphs: what training adds is the model, the optimiser and one batch's subgraph, whatever N.
Seconds per 1,000 seed nodes: wall time of the training steps after the first 10 (warm-up),
including sampling, both views, forward and backward.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

GIB = 2**30


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def child(args: argparse.Namespace) -> None:
    import lightning as L
    import torch

    import selfsup
    from selfsup.modalities.graph.data.generators import sbm_citation
    from selfsup.modalities.graph.data.source import node_source

    if args.threads:
        torch.set_num_threads(args.threads)
    nodes = args.nodes[0]
    out: dict[str, float] = {"nodes": nodes}
    started = time.perf_counter()
    g = sbm_citation(num_nodes=nodes, mean_degree=args.mean_degree, features="gaussian",
                     num_features=args.features, seed=0)
    out["edges"] = int(g["edge_index"].shape[1])
    out["generate_s"] = time.perf_counter() - started
    built = time.perf_counter()
    source = node_source("sbm_citation", g.pop("x"), g.pop("edge_index"), g["y"], test_mask=g["test_mask"],
                         class_names=[f"topic {c}" for c in range(int(g["y"].max()) + 1)],
                         neighbors=list(args.neighbors))
    del g
    out["source_s"] = time.perf_counter() - built
    out["data_peak"], out["data_rss"] = _peak(), _rss()
    _reset_peak()

    class Probe(L.Callback):
        def __init__(self) -> None:
            self.step, self.t0, self.t_end = 0, None, None

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if self.step == args.warmup:
                self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            self.step += 1
            if self.step >= args.steps:
                trainer.should_stop = True

        def on_train_end(self, trainer, module):
            self.t_end = time.perf_counter()
            out["train_steps"] = self.step
            out["train_peak"], out["train_rss"] = _peak(), _rss()
            timed = (self.step - args.warmup) * args.batch_size
            out["s_per_1000_seeds"] = (self.t_end - self.t0) / timed * 1000 if self.t0 and timed > 0 else float("nan")
            out["train_s"] = self.t_end - train_started
            _reset_peak()
            if args.skip_eval:
                raise _Stop

    class _Stop(Exception):
        pass

    train_started = time.perf_counter()
    probe = Probe()
    try:
        result = selfsup.pretrain(
            data=source, method="grace", encoder="gcn", epochs=1, batch_size=args.batch_size,
            out=str(args.out), overwrite=True, progress=False, callbacks=[probe],
            overrides=[f"encoder.hidden_dim={args.width}", f"encoder.output_dim={args.width}",
                       "eval.random_init=false", "eval.raw_input=false", "eval.every_n_epochs=0",
                       "train.log_every_n_steps=50"],
        )
        out["eval_s"] = time.perf_counter() - probe.t_end
        out["eval_peak"] = _peak()
        out["linear_acc"] = result.metrics.get("pretrained", {}).get("linear_acc")
    except _Stop:
        pass
    out["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(out), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[200_000, 2_000_000],
                        help="graph sizes, each run in its own process (control first)")
    parser.add_argument("--mean-degree", type=float, default=10.0)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10, help="steps left out of the timing")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--neighbors", type=int, nargs="+", default=[10, 10])
    parser.add_argument("--width", type=int, default=64, help="gcn hidden and output width")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (0: torch's default); 1 on a shared box, where a busy "
                        "core stalls the other thread's parallel sorts")
    parser.add_argument("--skip-eval", action="store_true", help="stop after training (no final evaluation)")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/selfsup_graph_scale"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    rows = []
    for n in args.nodes:
        argv = [sys.executable, __file__, "--child", "--nodes", str(n), "--out", str(args.folder / f"run_{n}"),
                "--mean-degree", str(args.mean_degree), "--features", str(args.features), "--steps", str(args.steps),
                "--warmup", str(args.warmup), "--threads", str(args.threads), "--batch-size", str(args.batch_size), "--width", str(args.width),
                "--neighbors", *map(str, args.neighbors)] + (["--skip-eval"] if args.skip_eval else [])
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            sys.exit(f"run on {n} nodes failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        row = json.loads(lines[-1][len("RESULT "):])
        row["process_s"] = time.perf_counter() - started
        row["train_added"] = row["train_peak"] - row["data_rss"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| nodes | edges (directed) | data peak | resident after data | train peak | train peak - data resident "
          "| eval peak | s / 1,000 seeds | eval s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        eval_peak = f"{r['eval_peak'] / GIB:.2f} GiB" if "eval_peak" in r else "skipped"
        eval_s = f"{r['eval_s']:.0f}" if "eval_s" in r else "skipped"
        print(f"| {r['nodes']:,} | {r['edges']:,} | {r['data_peak'] / GIB:.2f} GiB | {r['data_rss'] / GIB:.2f} GiB "
              f"| {r['train_peak'] / GIB:.2f} GiB | {r['train_added'] / GIB:.2f} GiB | {eval_peak} "
              f"| {r['s_per_1000_seeds']:.3f} | {eval_s} |")
    print(json.dumps({"steps": args.steps, "threads": args.threads, "batch_size": args.batch_size, "neighbors": args.neighbors,
                      "date": time.strftime("%Y-%m-%d")}))


if __name__ == "__main__":
    main()

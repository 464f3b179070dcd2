"""Adversarial cases: graph files and graph options (issue 14's bad input, through the CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from _reliability import QUICK, Case, run_cases

G = "pretrain --modality graph --epochs 1 --no-progress --out {tmp}/r --data"
X = np.random.default_rng(0).random((8, 3)).astype(np.float32)
RING = np.array([[0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 0]])
Y = np.arange(8) % 2


def npz(name: str = "g.npz", **arrays):
    def setup(tmp: Path) -> None:
        np.savez(tmp / name, **arrays)

    return setup


def text(files: dict[str, str]):
    def setup(tmp: Path) -> None:
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)

    return setup


CASES = [
    Case("graph-edge-past-the-nodes", f"{G} {{tmp}}/g.npz", r"g\.npz.*edge", setup=npz(x=X, edge_index=RING + 3, y=Y)),
    Case("graph-negative-node-id", f"{G} {{tmp}}/g.npz", r"g\.npz", setup=npz(x=X, edge_index=RING - 1, y=Y)),
    Case("graph-float-edge-ids", f"{G} {{tmp}}/g.npz", r"g\.npz", setup=npz(x=X, edge_index=RING + 0.5, y=Y)),
    Case("graph-nan-features", f"{G} {{tmp}}/g.npz", r"g\.npz.*node", setup=npz(x=np.where(X > 0.9, np.nan, X), edge_index=RING, y=Y)),
    Case("graph-no-edges", f"{G} {{tmp}}/g.npz", r"g\.npz.*edges", setup=npz(x=X, edge_index=np.zeros((2, 0), np.int64), y=Y)),
    Case("graph-overlapping-masks", f"{G} {{tmp}}/g.npz", r"g\.npz.*mask", setup=npz(
        x=X, edge_index=RING, y=Y, train_mask=np.arange(8) < 5, test_mask=np.arange(8) > 3)),
    Case("graph-labels-wrong-length", f"{G} {{tmp}}/g.npz", r"g\.npz.*y", setup=npz(x=X, edge_index=RING, y=Y[:5])),
    Case("graph-without-edge-index", f"{G} {{tmp}}/g.npz", r"g\.npz.*edge_index", setup=npz(x=X, y=Y)),
    Case("graph-tu-counts-disagree", f"{G} {{tmp}}/TOY", r"TOY_graph_indicator\.txt|TOY_node_labels\.txt", setup=text({
        "TOY/TOY_A.txt": "1, 2\n2, 1\n3, 4\n4, 3\n", "TOY/TOY_graph_indicator.txt": "1\n1\n2\n2\n",
        "TOY/TOY_graph_labels.txt": "0\n1\n", "TOY/TOY_node_labels.txt": "0\n1\n0\n"})),
    Case("graph-tu-edge-past-the-nodes", f"{G} {{tmp}}/TOY", r"TOY_A\.txt.*line 3", setup=text({
        "TOY/TOY_A.txt": "1, 2\n2, 1\n3, 9\n", "TOY/TOY_graph_indicator.txt": "1\n1\n2\n2\n",
        "TOY/TOY_graph_labels.txt": "0\n1\n"})),
    Case("graph-csv-ragged", f"{G} {{tmp}}/e.csv", r"e\.csv", setup=text({"e.csv": "source,target\n1,2\n3\n"})),
    Case("graph-graphml-corrupt", f"{G} {{tmp}}/g.graphml", r"g\.graphml", setup=text({"g.graphml": "<graphml><graph"})),
    Case("graph-level-task-on-one-graph", f"{G} {{tmp}}/g.npz --set data.options.task=graph", r"one graph",
         setup=npz(x=X, edge_index=RING, y=Y)),
    Case("graph-task-unknown", f"{G} {{tmp}}/g.npz --set data.options.task=edges", r"task", setup=npz(x=X, edge_index=RING, y=Y)),
    Case("graph-level-method-on-nodes", "pretrain --data karate --method graphcl --epochs 1 --out {tmp}/r", r"graphcl_augment|many graphs"),
    Case("graph-node-method-on-graphs", "pretrain --data synthetic_motifs --method dgi --epochs 1 --out {tmp}/r", r"dgi.*node"),
    Case("graph-neighbors-zero", "pretrain --data sbm_citation --method grace --epochs 1 --out {tmp}/r "
         "--set data.options.neighbors=[0,5]", r"neighbors"),
    Case("graph-gat-heads", "pretrain --data karate --method grace --epochs 1 --out {tmp}/r --encoder gat "
         "--set encoder.heads=3", r"heads"),
    Case("graph-duplicates-said", f"{G} {{tmp}}/g.npz {' '.join(QUICK)} --set eval.k=2", r"duplicate", exit=0,
         setup=npz(x=X, edge_index=np.concatenate([RING, RING[::-1], RING], axis=1), y=Y), may_change=("r",)),
]

test_graph_case = run_cases(CASES)

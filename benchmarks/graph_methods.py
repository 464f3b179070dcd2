"""Every graph method on the built-in graphs, next to its random-init encoder and the raw features.

    python benchmarks/graph_methods.py                       # node-level methods on sbm_citation
    python benchmarks/graph_methods.py --data synthetic_motifs --methods graphcl infograph

Each method runs through the public API with its registered defaults (encoder, views) for
``--epochs`` epochs; the table prints the linear-probe and kNN accuracy of the pretrained encoder,
of the same encoder at its random initialisation, and of the raw input features, the score of the
papers' protocol (``planetoid_acc``: the probe fitted on the 20 training nodes per class;
``svm_cv_acc``: InfoGraph's 10-fold SVM, mean ± std) for the same three, and the seconds of the
whole run. ``--ceiling`` adds a 2-layer GCN trained with the labels (node level): on every
training node, and on the Planetoid training nodes only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import selfsup

NODE_METHODS = ["grace", "gca", "dgi", "bgrl", "cca_ssg", "graphmae", "mvgrl", "simclr", "vicreg", "barlow_twins"]
GRAPH_METHODS = ["graphcl", "infograph", "simclr"]


def supervised_gcn(data: str, epochs: int = 200, seed: int = 0, planetoid: bool = False) -> float:
    """Test accuracy of a 2-layer GCN (hidden 64) trained on the training nodes' labels (only the
    Planetoid training nodes with ``planetoid``)."""
    import torch
    import torch.nn.functional as F

    from selfsup.data import load_data
    from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
    from selfsup.modalities.graph.encoders.gnn import GNN

    torch.manual_seed(seed)
    source = load_data(data)
    x, edges = source.collate.x, source.collate.edge_index
    spec = GraphSpec(int(x.shape[1]))
    gnn = GNN(spec, hidden_dim=64, output_dim=64, dropout=0.5)
    head = torch.nn.Linear(64, source.num_classes)
    optimiser = torch.optim.Adam([*gnn.parameters(), *head.parameters()], lr=0.01, weight_decay=5e-4)

    train_ids, test_ids, y_train = source.train.ids, source.test.ids, source.y_train
    if planetoid:
        train_ids, y_train = train_ids[source.protocol.train], y_train[source.protocol.train]
    whole = Graphs(x, edges, nodes=torch.arange(x.shape[0]))
    for _ in range(epochs):
        gnn.train()
        logits = head(gnn.node_embeddings(whole))
        loss = F.cross_entropy(logits[train_ids], y_train)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    gnn.eval()
    with torch.no_grad():
        predicted = head(gnn.node_embeddings(whole))[test_ids].argmax(1)
    return float((predicted == source.y_test).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="sbm_citation")
    parser.add_argument("--methods", nargs="*")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--ceiling", action="store_true")
    args = parser.parse_args()
    methods = args.methods or (GRAPH_METHODS if args.data == "synthetic_motifs" else NODE_METHODS)
    protocol = "svm_cv_acc" if args.data == "synthetic_motifs" else "planetoid_acc"
    print(f"| method | linear acc | random-init | raw features | kNN acc | random-init kNN | {protocol} | "
          "random-init | raw features | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for method in methods:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.time()
            run = selfsup.pretrain(method=method, data=args.data, epochs=args.epochs, batch_size=args.batch_size,
                                   out=str(Path(tmp) / "run"), progress=False, overrides=["eval.every_n_epochs=0"])
            seconds = time.time() - started
            m = run.metrics
            raw = m.get("raw_input", {})
            print(f"| {method} | {m['pretrained']['linear_acc']:.3f} | {m['random_init']['linear_acc']:.3f} | "
                  f"{raw.get('linear_acc', float('nan')):.3f} | {m['pretrained']['knn_acc']:.3f} | "
                  f"{m['random_init']['knn_acc']:.3f} | "
                  + " | ".join(_spread(column, protocol) for column in (m["pretrained"], m["random_init"], raw))
                  + f" | {seconds:.0f} |", flush=True)
    if args.ceiling and args.data != "synthetic_motifs":
        print(f"\nsupervised 2-layer GCN (ceiling): test accuracy {supervised_gcn(args.data):.3f} trained on "
              f"every training node, {supervised_gcn(args.data, planetoid=True):.3f} on the Planetoid training nodes")


def _spread(column: dict, key: str) -> str:
    if key not in column:
        return "—"
    spread = column.get(f"{key}_std")
    return f"{column[key]:.3f}" + ("" if spread is None else f" ± {spread:.3f}")


if __name__ == "__main__":
    main()

"""DGI in selfsup side by side with PyTorch Geometric's own ``DeepGraphInfomax`` on ``sbm_citation``.

    python benchmarks/graph_peers.py --epochs 100

Both train the same encoder (one GCN layer of 512 with PReLU, DGI's Cora encoder) with feature
shuffling as the corruption, Adam at lr 1e-3, one full-graph step per epoch (selfsup: a batch of
every training node and ``loss_nodes=all``, so its loss covers every node as PyG's does), for the
same number of epochs and seeds (selfsup's learning rate is not scaled with the batch:
``lr_reference_batch`` = the batch, and constant: ``final_lr_ratio`` = 1, as PyG's example). Both are scored by the same linear probe (selfsup's, on the
frozen embeddings of the training nodes, tested on the 1,000 held-out nodes). Seconds per epoch
are training only, measured in the same process, one after the other.

PyGCL 0.1.2 is not compared: it installs, but ``import GCL`` fails here (it imports ``dgl`` and
``torch_sparse``, which has no wheel for this torch); see ../shared/PEERS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import selfsup
from selfsup.data import load_data
from selfsup.eval import evaluate_embeddings


def pyg_dgi(source, epochs: int, seed: int) -> tuple[float, float]:
    """PyG's DeepGraphInfomax with its example's encoder; (linear acc, seconds per epoch)."""
    from torch_geometric.nn import GCNConv
    from torch_geometric.nn.models import DeepGraphInfomax

    torch.manual_seed(seed)
    x, edges = source.collate.x, source.collate.edge_index

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.act = GCNConv(x.shape[1], 512), torch.nn.PReLU(512)

        def forward(self, x, edge_index):
            return self.act(self.conv(x, edge_index))

    model = DeepGraphInfomax(
        512, encoder=Encoder(), summary=lambda z, *args, **kwargs: torch.sigmoid(z.mean(dim=0)),
        corruption=lambda x, edge_index: (x[torch.randperm(x.size(0))], edge_index),
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        optimiser.zero_grad()
        pos, neg, summary = model(x, edges)
        loss = model.loss(pos, neg, summary)
        loss.backward()
        optimiser.step()
    per_epoch = (time.perf_counter() - started) / epochs
    model.eval()
    with torch.no_grad():
        z = model(x, edges)[0]
    train_ids, test_ids = source.train.ids, source.test.ids
    scores = evaluate_embeddings(z[train_ids], source.y_train, z[test_ids], source.y_test)
    return scores["linear_acc"], per_epoch


def selfsup_dgi(source, epochs: int, seed: int, checkpoint_every_s: float = 0.0) -> tuple[float, float, float]:
    """selfsup's dgi, same encoder and steps; (linear acc, random-init linear acc, s/epoch)."""
    with tempfile.TemporaryDirectory() as tmp:
        run = selfsup.pretrain(
            method="dgi", data="sbm_citation", encoder="gcn", epochs=epochs, batch_size=source.n_train,
            seed=seed, out=str(Path(tmp) / "run"), progress=False,
            overrides=["method.loss_nodes=all", "encoder.layers=1", "encoder.output_dim=512", "views.name=none",
                       "train.lr=0.001", f"train.lr_reference_batch={source.n_train}", "train.weight_decay=0", "train.warmup_epochs=0", "train.final_lr_ratio=1",
                       "eval.every_n_epochs=0", "eval.raw_input=false",
                       f"train.checkpoint_every_s={checkpoint_every_s}"],
        )
    m = run.metrics
    return m["pretrained"]["linear_acc"], m["random_init"]["linear_acc"], m["seconds_per_epoch"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--checkpoint-every-s", type=float, nargs="+", default=[0.0],
                        help="selfsup's train.checkpoint_every_s; several values: a row each")
    args = parser.parse_args()
    torch.set_num_threads(2)
    source = load_data("sbm_citation")
    names = {every: "selfsup dgi" + (f" (last.ckpt at most every {every:g} s)" if every else "")
             for every in args.checkpoint_every_s}
    rows = {**{name: [] for name in names.values()}, "PyG DeepGraphInfomax": []}
    random_init = []
    for seed in range(args.seeds):
        for every, name in names.items():
            acc, rand, per_epoch = selfsup_dgi(source, args.epochs, seed, every)
            rows[name].append((acc, per_epoch))
        random_init.append(rand)
        rows["PyG DeepGraphInfomax"].append(pyg_dgi(source, args.epochs, seed))
    print(f"\nsbm_citation, {args.epochs} full-graph epochs, {args.seeds} seeds (mean ± std)\n")
    print("| implementation | linear acc | seconds / epoch |\n|---|---:|---:|")
    for name, values in rows.items():
        acc, sec = np.array(values).T
        print(f"| {name} | {acc.mean():.3f} ± {acc.std():.3f} | {sec.mean():.3f} ± {sec.std():.3f} |")
    print(f"| random-init GCN (selfsup's probe) | {np.mean(random_init):.3f} ± {np.std(random_init):.3f} | — |")


if __name__ == "__main__":
    main()

"""RecBole 1.2.1 on ml-100k with the settings of ``benchmarks/interactions_methods.py``, side by side.

RecBole is a benchmark-only peer, never a selfsup dependency: run this script with the Python of a
separate environment that has it (PEERS.md, RecBole section), e.g.

    python3 -m venv /work/recbole-venv
    /work/recbole-venv/bin/pip install --no-deps recbole==1.2.1
    /work/recbole-venv/bin/pip install "numpy<2" "pandas<2.3" "scipy<1.11" "setuptools<81" \\
        "scikit-learn<1.6" colorlog colorama tabulate texttable thop pyyaml tqdm "faiss-cpu<1.9" psutil
    # torch: the same build as selfsup's (a .pth file pointing at that environment's
    # site-packages, after the venv's own, avoids a second multi-GB torch download)
    /work/recbole-venv/bin/python benchmarks/recbole_peer.py --epochs 60

It imports RecBole's config / data / trainer modules directly (``recbole.quick_start`` imports
``ray``, which this environment does not need). Settings: the ml-100k atomic files of the wheel,
RecBole's default split for it (every rating a positive, random 0.8 / 0.1 / 0.1 per user, full
ranking), 64-d embeddings, batch 2048, Adam 1e-3, ``--epochs`` epochs with one evaluation at the
end (no early stopping, as the selfsup runs), the models' own default hyper-parameters
otherwise (NCL: 100 clusters, below the 943 users). Prints test Recall@20 / NDCG@20 and the
seconds per training epoch (RecBole's fit, its one validation taken out).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

MODELS = {"bpr_mf": "BPR", "lightgcn": "LightGCN", "sgl": "SGL", "ncl": "NCL"}


def run(model: str, epochs: int, seed: int) -> dict:
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    data_path = Path(next(iter(importlib.util.find_spec("recbole").submodule_search_locations))) / "dataset_example"
    settings = {"data_path": str(data_path), "embedding_size": 64, "train_batch_size": 2048, "learning_rate": 1e-3,
                "epochs": epochs, "eval_step": epochs, "stopping_step": epochs, "metrics": ["Recall", "NDCG"],
                "topk": [20], "valid_metric": "Recall@20", "seed": seed, "show_progress": False,
                "checkpoint_dir": "/tmp/recbole_saved", "state": "WARNING", "gpu_id": "", "use_gpu": False,
                "worker": 0}
    if model == "NCL":
        settings["num_clusters"] = 100
    config = Config(model=model, dataset="ml-100k", config_dict=settings)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    network = get_model(config["model"])(config, train._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, network)
    # RecBole's own fit (NCL's E-step and SGL's subgraphs happen there), one validation at the
    # end; its time is measured once more and taken out of the per-epoch figure
    started = time.time()
    trainer.fit(train, valid, verbose=False, saved=False, show_progress=False)
    fit_seconds = time.time() - started
    started = time.time()
    trainer.evaluate(valid, load_best_model=False, show_progress=False)
    evaluation_seconds = time.time() - started
    figures = trainer.evaluate(test, load_best_model=False, show_progress=False)
    epoch_seconds = [(fit_seconds - evaluation_seconds) / epochs]
    return {"method": model, "epochs": epochs, "recall@20": round(float(figures["recall@20"]), 4),
            "ndcg@20": round(float(figures["ndcg@20"]), 4),
            "seconds_per_epoch": round(sum(epoch_seconds) / len(epoch_seconds), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args()
    for method in args.methods:
        print(json.dumps({"selfsup_name": method, **run(MODELS[method], args.epochs, args.seed)}), flush=True)


if __name__ == "__main__":
    main()

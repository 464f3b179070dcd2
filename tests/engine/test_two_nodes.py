"""Two machines, simulated: two `torchrun --nnodes 2 --nproc_per_node 1` launches meeting at
127.0.0.1 (gloo) run one training, write one run folder, and compute what two processes on one
machine compute (the same first-step loss)."""

import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from selfsup.config import build_config
from selfsup.engine.trainer import check_launcher
from selfsup.errors import SelfsupError

RUN = ["pretrain", "--epochs", "1", "--strategy", "ddp", "--no-progress", "--encoder", "small_cnn",
       "--set", "encoder.width=8", "--set", "train.accelerator=cpu", "--set", "eval.random_init=false",
       "--set", "eval.raw_input=false", "--set", "eval.every_n_epochs=0", "--set", "train.log_every_n_steps=1"]


def _env() -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    for name in ("LOCAL_RANK", "NODE_RANK", "RANK", "GROUP_RANK", "SELFSUP_RUN_DIR", "TORCHELASTIC_RUN_ID"):
        env.pop(name, None)
    return env


def _first_loss(run: Path) -> float:
    rows = [r for r in csv.DictReader((run / "metrics.csv").open()) if r.get("loss")]
    return float(rows[0]["loss"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_simulated_nodes_run_once_and_match_two_processes_on_one_node(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    port = _free_port()
    out = tmp_path / "nodes"
    launches = [
        subprocess.Popen([str(torchrun), "--nnodes", "2", "--nproc_per_node", "1", "--node_rank", str(rank),
                          "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "selfsup", *RUN,
                          "--devices", "1", "--set", "train.num_nodes=2", "--out", str(out)],
                         cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in launches]
    assert [p.returncode for p in launches] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert (out / "metrics.json").is_file() and (out / "checkpoints" / "last.ckpt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nodes"]  # node 1 wrote nothing of its own

    one_node = tmp_path / "one_node"
    proc = subprocess.run([sys.executable, "-m", "selfsup", *RUN, "--devices", "2", "--out", str(one_node)],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _first_loss(out) == pytest.approx(_first_loss(one_node), abs=1e-6)


def test_num_nodes_without_a_launcher_says_how_to_launch(monkeypatch):
    for name in ("TORCHELASTIC_RUN_ID", "GROUP_RANK", "SLURM_NTASKS", "NODE_RANK"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SelfsupError, match=r"torchrun --nnodes 2 --nproc_per_node 1 --node_rank R"):
        check_launcher(build_config(overrides=["train.num_nodes=2", "train.strategy=ddp"]).train)
    with pytest.raises(SelfsupError, match="needs strategy ddp"):
        check_launcher(build_config(overrides=["train.num_nodes=2"]).train)
    check_launcher(build_config().train)  # one machine: nothing to check

"""Two CPU processes through the CLI (`--devices 2 --strategy ddp`) write one run folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_two_process_ddp_run_on_cpu_writes_one_run_folder(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("LOCAL_RANK", None)
    env.pop("SELFSUP_RUN_DIR", None)
    cmd = [
        sys.executable, "-m", "selfsup",
        "pretrain", "--epochs", "1", "--devices", "2", "--strategy", "ddp",
        "--out", str(out), "--no-progress", "--encoder", "small_cnn",
        "--set", "encoder.width=8", "--set", "eval.random_init=false", "--set", "train.accelerator=cpu",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert "knn_acc" in metrics["pretrained"]
    assert (out / "checkpoints" / "last.ckpt").is_file()
    # the second process wrote nowhere else
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["ddp"]

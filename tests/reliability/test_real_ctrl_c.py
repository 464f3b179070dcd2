"""A real Ctrl-C (SIGINT to the process) during training, after the first checkpoint: exit 130,
one ``interrupted:`` line that says how to continue, and ``--resume`` finishes the run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from _reliability import image_arrays

pytestmark = pytest.mark.slow


def test_sigint_after_a_checkpoint_keeps_the_run_and_resume_finishes_it(tmp_path: Path) -> None:
    x, y = image_arrays(n=2048)
    np.savez(tmp_path / "good.npz", x=x, y=y)
    out = tmp_path / "r"
    command = [sys.executable, "-m", "selfsup", "pretrain", "--data", str(tmp_path / "good.npz"), "--modality", "image",
               "--epochs", "30", "--batch-size", "256", "--no-progress", "--out", str(out),
               "--set", "eval.every_n_epochs=0", "--set", "eval.random_init=false", "--set", "eval.raw_input=false"]
    # A shell without job control starts background jobs with SIGINT ignored, and a child inherits
    # that: the run restores Python's own handler first, as a terminal's Ctrl-C would find it.
    restore = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
               "sys.argv = ['selfsup', *sys.argv[1:]]; runpy.run_module('selfsup', run_name='__main__')")
    process = subprocess.Popen([sys.executable, "-c", restore, *command[3:]], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while not (out / "checkpoints" / "last.ckpt").is_file() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    shown = f"--- stdout\n{stdout}\n--- stderr\n{stderr}"
    assert process.returncode == 130, shown
    assert "Traceback" not in stdout + stderr, shown
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
    assert len(lines) == 1 and "--resume" in lines[0], shown
    assert (out / "checkpoints" / "last.ckpt").is_file() and not (out / "metrics.json").exists()
    resumed = subprocess.run([sys.executable, "-m", "selfsup", "pretrain", "--out", str(out), "--resume", "--no-progress"],
                             capture_output=True, text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()

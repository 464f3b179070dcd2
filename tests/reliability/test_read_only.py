"""Adversarial cases that need a folder the user cannot write to, or a file they cannot read.

Root can write anywhere, so each command runs as ``nobody`` (``setpriv``) in a separate process
on files root owns; skipped where the tests do not run as root or ``setpriv`` is missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from _reliability import image_arrays, snapshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
                       reason="needs root and setpriv to run a command as another user"),
]

NOBODY = 65534


@pytest.fixture
def place(trained_run: Path):
    """A folder every user can enter, with a root-owned run and data (pytest's own is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="selfsup-ro-", dir="/tmp"))
    folder.chmod(0o755)
    x, y = image_arrays()
    np.savez(folder / "good.npz", x=x, y=y)
    shutil.copytree(trained_run, folder / "run")
    for path in [folder / "run", *(folder / "run").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (folder / "home").mkdir(mode=0o777)
    (folder / "home").chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_nobody(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(folder / "home"), "MPLCONFIGDIR": str(folder / "home")}
    command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
               sys.executable, "-m", "selfsup", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder / "home", timeout=300, check=False)


def one_error(result: subprocess.CompletedProcess, pattern: str) -> None:
    shown = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 2, shown
    assert "Traceback" not in result.stdout + result.stderr, shown
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and pattern in errors[0], shown


QUICK = ["--epochs", "1", "--no-progress", "--set", "eval.random_init=false", "--set", "eval.raw_input=false",
         "--set", "eval.every_n_epochs=0"]


def test_evaluate_on_a_read_only_run_is_refused_before_it_evaluates(place):
    before = snapshot(place / "run")
    result = as_nobody(place, "evaluate", str(place / "run"))
    one_error(result, "Cannot write into")
    assert snapshot(place / "run") == before


def test_pretrain_into_a_read_only_parent_is_one_line(place):
    result = as_nobody(place, "pretrain", "--data", str(place / "good.npz"), "--modality", "image",
                       "--out", str(place / "run" / "inner"), *QUICK)
    one_error(result, "Permission denied")
    assert not (place / "run" / "inner").exists()


def test_overwrite_of_a_read_only_run_keeps_it(place):
    before = snapshot(place / "run")
    result = as_nobody(place, "pretrain", "--data", str(place / "good.npz"), "--modality", "image",
                       "--out", str(place / "run"), "--overwrite", *QUICK)
    one_error(result, "Permission denied")
    assert snapshot(place / "run") == before
    assert sorted(p.name for p in place.iterdir()) == ["good.npz", "home", "run"]


def test_embed_into_a_read_only_folder_is_one_line(place):
    result = as_nobody(place, "embed", str(place / "run"), "--data", str(place / "good.npz"),
                       "--out", str(place / "run" / "emb.npy"))
    one_error(result, "Permission denied")
    assert not (place / "run" / "emb.npy").exists()


def test_unreadable_data_names_the_file(place):
    (place / "good.npz").chmod(0o600)
    digest = hashlib.sha256((place / "good.npz").read_bytes()).hexdigest()
    result = as_nobody(place, "pretrain", "--data", str(place / "good.npz"), "--modality", "image",
                       "--out", str(place / "home" / "r"), *QUICK)
    one_error(result, "good.npz")
    assert hashlib.sha256((place / "good.npz").read_bytes()).hexdigest() == digest
    assert not (place / "home" / "r").exists()

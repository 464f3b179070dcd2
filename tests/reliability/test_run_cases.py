"""Adversarial cases: resuming, run folders, evaluate/embed on damaged runs, and Ctrl-C.

``{run}`` is a copy of a finished one-epoch SimCLR run on ``good.npz``; faults a user cannot
provoke on purpose in a test (Ctrl-C at a given moment, a full disk) are injected with
``Case.patch``. Read-only folders need a user other than root: those cases are in
``test_read_only.py`` (slow lane).
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from _reliability import QUICK, Case, image_arrays, run_cases

Q = " ".join(QUICK)
RESUME = f"pretrain --out {{tmp}}/run --resume {Q}"
C = "pretrain --data {good} --modality image --epochs 1 --no-progress --out {tmp}/r"


def edit(path: str, content: bytes | str | None):
    """Replace (or, with None, delete) a file of the test's folder."""

    def setup(tmp: Path) -> None:
        target = tmp / path
        if content is None:
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)

    return setup


def truncate(path: str, keep: int):
    def setup(tmp: Path) -> None:
        target = tmp / path
        target.write_bytes(target.read_bytes()[:keep])

    return setup


def foreign_checkpoint(tmp: Path) -> None:
    """A checkpoint whose weights have other shapes (another method's, another encoder's)."""
    ckpt = tmp / "run" / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    saved["state_dict"] = {k: torch.zeros(3) for k in saved["state_dict"]}
    torch.save(saved, ckpt)


def series_copy(tmp: Path) -> None:
    """The saved run says it was trained on series (its data is images)."""
    config = (tmp / "run" / "config.yaml").read_text()
    (tmp / "run" / "config.yaml").write_text(config.replace("modality: image", "modality: timeseries"))


def combine(*steps):
    def setup(tmp: Path) -> None:
        for step in steps:
            step(tmp)

    return setup


class _Interrupt(L.Callback):
    """Ctrl-C at the start of training epoch ``epoch``."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == self.epoch:
            raise KeyboardInterrupt


def ctrl_c_in_epoch(epoch: int):
    def patch(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        from selfsup import api

        pretrain = api.pretrain
        monkeypatch.setattr(api, "pretrain", lambda *a, **k: pretrain(*a, **{**k, "callbacks": [_Interrupt(epoch)]}))

    return patch


def ctrl_c_at(module: str, name: str):
    """Ctrl-C when ``module.name`` is called."""

    def patch(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        import importlib

        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(importlib.import_module(module), name, interrupted)

    return patch


def disk_full_at(module: str, name: str):
    def patch(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
        import importlib

        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

        monkeypatch.setattr(importlib.import_module(module), name, full)

    return patch


def images(name: str, size: int = 8):
    def setup(tmp: Path) -> None:
        x, y = image_arrays(size=size)
        np.savez(tmp / name, x=x, y=y)

    return setup


RESUMING = [
    Case("resume-the-same-command", RESUME, exit=0, may_change=("run",)),
    Case("resume-more-epochs", f"{RESUME} --epochs 2", exit=0, may_change=("run",)),
    Case("resume-fewer-epochs", f"pretrain --out {{tmp}}/run --resume --epochs 1 {Q}", r"train\.epochs",
         setup=lambda tmp: (tmp / "run" / "config.yaml").write_text(
             (tmp / "run" / "config.yaml").read_text().replace("epochs: 1", "epochs: 3"))),
    Case("resume-other-method", f"{RESUME} --method byol", r"method\.name"),
    Case("resume-other-data", f"{RESUME} --data {{series}} --modality timeseries", r"data\."),
    Case("resume-other-lr", f"{RESUME} --set train.lr=0.5", r"train\.lr"),
    Case("resume-nothing-there", f"pretrain --out {{tmp}}/nothing --resume {Q}", r"nothing"),
    Case("resume-without-out", f"pretrain --resume {Q}", r"--out"),
    Case("resume-with-overwrite", f"{RESUME} --overwrite", r"--overwrite|--resume"),
    Case("resume-checkpoint-missing", RESUME, r"checkpoint", setup=edit("run/checkpoints/last.ckpt", None)),
    Case("resume-checkpoints-folder-missing", RESUME, r"checkpoint", setup=edit("run/checkpoints", None)),
    Case("resume-checkpoint-garbage", RESUME, r"last\.ckpt", setup=edit("run/checkpoints/last.ckpt", b"not a checkpoint")),
    Case("resume-checkpoint-empty", RESUME, r"last\.ckpt", setup=edit("run/checkpoints/last.ckpt", b"")),
    Case("resume-checkpoint-truncated", RESUME, r"last\.ckpt", setup=truncate("run/checkpoints/last.ckpt", 5000)),
    Case("resume-checkpoint-is-a-folder", RESUME, r"last\.ckpt",
         setup=combine(edit("run/checkpoints/last.ckpt", None), lambda tmp: (tmp / "run/checkpoints/last.ckpt").mkdir())),
    Case("resume-checkpoint-of-another-model", RESUME, r"last\.ckpt", setup=foreign_checkpoint),
    Case("resume-checkpoint-json", RESUME, r"last\.ckpt", setup=edit("run/checkpoints/last.ckpt", json.dumps({"a": 1}))),
    Case("resume-config-missing", RESUME, r"config\.yaml", setup=edit("run/config.yaml", None)),
    Case("resume-config-garbage", RESUME, r"config\.yaml", setup=edit("run/config.yaml", "train: [unclosed\n")),
    Case("resume-config-unknown-key", RESUME, r"config\.yaml|traine",
         setup=lambda tmp: (tmp / "run/config.yaml").write_text((tmp / "run/config.yaml").read_text() + "traine: {}\n")),
    Case("resume-config-bad-value", RESUME, r"config\.yaml|epochs",
         setup=lambda tmp: (tmp / "run/config.yaml").write_text(
             (tmp / "run/config.yaml").read_text().replace("epochs: 1", "epochs: -4"))),
    Case("resume-config-other-modality", RESUME, r"shape|timeseries|image", setup=series_copy),
]

RUN_FOLDERS = [
    Case("out-holds-a-run", f"pretrain --data {{good}} --modality image --out {{tmp}}/run {Q}", r"--resume|--overwrite"),
    Case("out-is-a-file", f"{C}", r"r is a file", setup=edit("r", "my notes")),
    Case("out-is-a-file-overwrite", f"{C} --overwrite", r"r is a file", setup=edit("r", "my notes")),
    Case("out-through-a-file", "pretrain --data {good} --modality image --epochs 1 --out {tmp}/f.txt/r", r"f\.txt",
         setup=edit("f.txt", "x")),
    Case("out-empty", ["pretrain", "--data", "{good}", "--modality", "image", "--out", ""], r"out"),
    Case("out-name-too-long", f"pretrain --data {{good}} --modality image --epochs 1 --out {{tmp}}/{'r' * 300}", r"long"),
    Case("out-foreign-folder", f"pretrain --data {{good}} --modality image --out {{tmp}}/mine {Q}", r"mine.*not empty",
         setup=edit("mine/notes.txt", "mine")),
    Case("out-foreign-folder-overwrite-keeps-its-files",
         f"pretrain --data {{good}} --modality image --out {{tmp}}/mine --overwrite {Q}", exit=0,
         setup=edit("mine/notes.txt", "mine"), may_change=tuple(f"mine/{n}" for n in (
             "config.yaml", "metrics.json", "metrics.csv", "report.html", "encoder.safetensors", "encoder.json",
             "checkpoints/"))),
    Case("overwrite-refused-option-keeps-run", "pretrain --data {good} --modality image --out {tmp}/run --overwrite "
         "--method simclr --set method.temperature=0", r"temperature"),
    Case("overwrite-bad-data-keeps-run", "pretrain --data {tmp}/nope.npz --modality image --out {tmp}/run --overwrite",
         r"nope\.npz"),
    Case("overwrite-ctrl-c-keeps-run", f"pretrain --data {{good}} --modality image --out {{tmp}}/run --overwrite {Q}",
         r"Ctrl-C", exit=130, patch=ctrl_c_in_epoch(0)),
    Case("overwrite-disk-full-keeps-run", f"pretrain --data {{good}} --modality image --out {{tmp}}/run --overwrite {Q}",
         r"space", patch=disk_full_at("selfsup.engine.rundir", "save_file")),
    Case("overwrite-stale-incoming", f"pretrain --data {{good}} --modality image --out {{tmp}}/run --overwrite {Q}",
         exit=0, setup=edit(".run.incoming/config.yaml", "left by a killed run\n"), may_change=("run/", ".run.incoming/")),
    Case("overwrite-keeps-user-files", f"pretrain --data {{good}} --modality image --out {{tmp}}/run --overwrite {Q}",
         exit=0, setup=edit("run/notes.txt", "mine"), may_change=("run/config.yaml", "run/metrics.json", "run/metrics.csv",
                                                                 "run/report.html", "run/encoder.safetensors",
                                                                 "run/encoder.json", "run/checkpoints/")),
    Case("fresh-disk-full", f"{C} {Q}", r"space", patch=disk_full_at("selfsup.engine.rundir", "save_file"),
         may_change=("r/",)),
]

EVALUATE_EMBED = [
    Case("evaluate-missing-folder", "evaluate {tmp}/nope", r"nope"),
    Case("evaluate-not-a-run", "evaluate {tmp}", r"config\.yaml"),
    Case("evaluate-a-file", "evaluate {good}", r"good\.npz"),
    Case("evaluate-encoder-missing", "evaluate {run}", r"encoder\.safetensors", setup=edit("run/encoder.safetensors", None)),
    Case("evaluate-encoder-garbage", "evaluate {run}", r"encoder\.safetensors",
         setup=edit("run/encoder.safetensors", b"\x00" * 64)),
    Case("evaluate-encoder-truncated", "evaluate {run}", r"encoder\.safetensors",
         setup=truncate("run/encoder.safetensors", 1000)),
    Case("evaluate-encoder-json-missing", "evaluate {run}", r"encoder\.json", setup=edit("run/encoder.json", None)),
    Case("evaluate-encoder-json-garbage", "evaluate {run}", r"encoder\.json", setup=edit("run/encoder.json", "{oops")),
    Case("evaluate-encoder-json-list", "evaluate {run}", r"encoder\.json", setup=edit("run/encoder.json", "[1, 2]")),
    Case("evaluate-encoder-json-unknown-encoder", "evaluate {run}", r"encoder\.json|nonexistent",
         setup=edit("run/encoder.json", json.dumps({"name": "nonexistent", "input_shape": [1, 8, 8], "kwargs": {},
                                                    "output_dim": 4, "modality": "image"}))),
    Case("evaluate-metrics-garbage-before-work", "evaluate {run}", r"metrics\.json.*move it away",
         setup=edit("run/metrics.json", "{ not json"), patch=ctrl_c_at("selfsup.engine.evaluation", "evaluate_run_encoder")),
    Case("evaluate-metrics-a-list", "evaluate {run}", r"metrics\.json", setup=edit("run/metrics.json", "[]")),
    Case("evaluate-config-garbage", "evaluate {run}", r"config\.yaml", setup=edit("run/config.yaml", ":\n - [")),
    Case("evaluate-other-modality", "evaluate {run} --data {series} --modality timeseries", r"shape|timeseries"),
    Case("evaluate-other-image-size", "evaluate {run} --data {tmp}/big.npz", r"shape", setup=images("big.npz", 12)),
    Case("evaluate-data-missing", "evaluate {run} --data {tmp}/nope.npz", r"nope\.npz"),
    Case("evaluate-rewrites-a-lost-report", "evaluate {run}", exit=0, setup=edit("run/report.html", None),
         may_change=("run/metrics.json", "run/report.html")),
    Case("evaluate-ctrl-c", "evaluate {run}", r"Ctrl-C", exit=130,
         patch=ctrl_c_at("selfsup.engine.evaluation", "evaluate_run_encoder")),
    Case("embed-out-is-the-input", "embed {run} --data {tmp}/x.npy --out {tmp}/x.npy", r"input",
         setup=lambda tmp: np.save(tmp / "x.npy", image_arrays()[0])),
    Case("embed-out-not-npy", "embed {run} --data {good} --out {tmp}/e.csv", r"e\.npy"),
    Case("embed-out-is-a-folder", "embed {run} --data {good} --out {tmp}/d.npy", r"folder",
         setup=lambda tmp: (tmp / "d.npy").mkdir()),
    Case("embed-out-through-a-file", "embed {run} --data {good} --out {tmp}/f.txt/e.npy", r"f\.txt", setup=edit("f.txt", "x")),
    Case("embed-out-inside-the-run-config", "embed {run} --data {good} --out {run}/config.yaml", r"\.npy"),
    Case("embed-data-missing", "embed {run} --data {tmp}/nope.npz --out {tmp}/e.npy", r"nope\.npz"),
    Case("embed-data-other-modality", "embed {run} --data {series} --modality timeseries --out {tmp}/e.npy",
         r"shape|timeseries"),
    Case("embed-run-missing", "embed {tmp}/nope --data {good} --out {tmp}/e.npy", r"nope"),
    Case("embed-without-out", "embed {run} --data {good}", r"--out"),
    Case("embed-ctrl-c", "embed {run} --data {good} --out {tmp}/e.npy", r"Ctrl-C", exit=130,
         patch=ctrl_c_at("numpy", "save")),
    Case("embed-disk-full", "embed {run} --data {good} --out {tmp}/e.npy", r"space",
         patch=disk_full_at("numpy", "save")),
    Case("embed-writes", "embed {run} --data {good} --out {tmp}/sub/e.npy", exit=0, may_change=("sub/",)),
]

INTERRUPTS = [
    Case("ctrl-c-while-reading-data", f"{C} {Q}", r"Ctrl-C", exit=130, patch=ctrl_c_at("selfsup.assembly", "load_data")),
    Case("ctrl-c-in-first-epoch", f"{C} {Q}", r"Ctrl-C", exit=130, patch=ctrl_c_in_epoch(0)),
    Case("ctrl-c-after-a-checkpoint", f"{C} {Q} --epochs 2", r"Ctrl-C.*--resume", exit=130, patch=ctrl_c_in_epoch(1),
         may_change=("r/",)),
    Case("ctrl-c-in-final-evaluation", f"{C} {Q}", r"Ctrl-C.*--resume|evaluate", exit=130,
         patch=ctrl_c_at("selfsup.engine.evaluation", "evaluate_run_encoder"), may_change=("r/",)),
    Case("ctrl-c-while-resuming", f"{RESUME} --epochs 3", r"Ctrl-C", exit=130, patch=ctrl_c_in_epoch(2),
         may_change=("run/",)),
]

test_resume_case = run_cases(RESUMING)
test_run_folder_case = run_cases(RUN_FOLDERS)
test_evaluate_embed_case = run_cases(EVALUATE_EMBED)
test_interrupt_case = run_cases(INTERRUPTS)


def test_the_encoder_file_is_as_readable_as_the_rest_of_the_run(trained_run: Path) -> None:
    """safetensors creates its files 0600; the run's other files follow the umask."""
    import stat

    mode = stat.S_IMODE((trained_run / "encoder.safetensors").stat().st_mode)
    assert mode == stat.S_IMODE((trained_run / "encoder.json").stat().st_mode)
    assert mode & stat.S_IRGRP

"""--overwrite replaces a run only once the new one has finished: a new run that fails at any
point (here: during training) leaves the old run's files exactly as they were (issue 19, item 1)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import lightning as L
import pytest

import selfsup
from selfsup.errors import SelfsupError

TINY = dict(epochs=1, batch_size=64, overrides=["eval.random_init=false", "eval.raw_input=false",
                                                 "eval.every_n_epochs=0"], progress=False)


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class FailsOnFirstStep(L.Callback):
    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        raise SelfsupError("stopped on purpose in the first step")


def test_a_failing_overwrite_leaves_the_old_run_untouched(tmp_path):
    out = tmp_path / "r"
    selfsup.pretrain(method="simclr", out=str(out), **TINY)
    (out / "notes.txt").write_text("mine")
    before = _snapshot(out)
    with pytest.raises(SelfsupError, match="on purpose"):
        selfsup.pretrain(method="byol", out=str(out), overwrite=True, callbacks=[FailsOnFirstStep()], **TINY)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temporary sibling left


def test_a_finished_overwrite_replaces_selfsup_files_and_keeps_the_users(tmp_path):
    out = tmp_path / "r"
    selfsup.pretrain(method="simclr", out=str(out), **TINY)
    (out / "notes.txt").write_text("mine")
    run = selfsup.pretrain(method="byol", out=str(out), overwrite=True, **TINY)
    assert run.run_dir == out and run.metrics["method"] == "byol"
    assert "name: byol" in (out / "config.yaml").read_text()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "checkpoints" / "last.ckpt").is_file() and (out / "encoder.safetensors").is_file()
    assert "out: " + str(out) in (out / "config.yaml").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    selfsup.load(out)  # the replaced run is whole


def test_embed_refuses_to_overwrite_its_input_and_a_suffix_it_would_not_write(tmp_path):
    import numpy as np
    from typer.testing import CliRunner

    from selfsup.cli import app

    out = tmp_path / "r"
    selfsup.pretrain(method="simclr", out=str(out), **TINY)
    x = (np.arange(4 * 8 * 8) % 17).astype(np.uint8).reshape(4, 8, 8)
    data = tmp_path / "in.npy"
    np.save(data, x)
    before = data.read_bytes()
    runner = CliRunner()
    same = runner.invoke(app, ["embed", str(out), "--data", str(data), "--out", str(data)])
    assert same.exit_code == 2 and "would overwrite the input data" in same.output
    assert data.read_bytes() == before
    csv = runner.invoke(app, ["embed", str(out), "--data", str(data), "--out", str(tmp_path / "emb.csv")])
    assert csv.exit_code == 2 and "emb.npy" in csv.output
    assert not (tmp_path / "emb.csv").exists() and not (tmp_path / "emb.csv.npy").exists()
    good = runner.invoke(app, ["embed", str(out), "--data", str(data), "--out", str(tmp_path / "emb.npy")])
    assert good.exit_code == 0, good.output
    assert np.load(tmp_path / "emb.npy").shape[0] == 4
    assert not list(tmp_path.glob("*.partial.npy"))


def test_square_brackets_in_a_path_are_printed_literally(tmp_path):
    from typer.testing import CliRunner

    from selfsup.cli import app

    result = CliRunner().invoke(app, ["pretrain", "--data", str(tmp_path / "set[new].npz"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "set[new].npz" in result.output


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing_blocking_the_same_out(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(SelfsupError, match="on purpose"):
        selfsup.pretrain(method="simclr", out=str(out), callbacks=[FailsOnFirstStep()], **TINY)
    assert not out.exists()
    selfsup.pretrain(method="simclr", out=str(out), **TINY)  # the same command works now
    assert (out / "metrics.json").is_file()


class CtrlC(L.Callback):
    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        raise KeyboardInterrupt


def test_ctrl_c_is_one_line_and_exit_130_and_leaves_no_half_run(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from selfsup import api
    from selfsup.cli import app

    pretrain = api.pretrain
    monkeypatch.setattr(api, "pretrain", lambda *a, **k: pretrain(*a, **{**k, "callbacks": [CtrlC()]}))
    out = tmp_path / "r"
    result = CliRunner().invoke(app, ["pretrain", "--epochs", "1", "--batch-size", "64", "--out", str(out)])
    assert result.exit_code == 130, result.output
    assert "Ctrl-C" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_resume_accepts_the_users_own_command_and_more_epochs(tmp_path):
    import numpy as np
    from typer.testing import CliRunner

    from selfsup.cli import app

    x = (np.arange(64 * 8 * 8) % 251).astype(np.uint8).reshape(64, 8, 8)
    np.savez(tmp_path / "good.npz", x=x, y=np.arange(64) % 4)
    command = ["pretrain", "--data", str(tmp_path / "good.npz"), "--modality", "image", "--epochs", "1",
               "--out", str(tmp_path / "r"), "--no-progress"]
    runner = CliRunner()
    assert runner.invoke(app, command).exit_code == 0  # the default batch shrinks to fit 51 samples
    again = runner.invoke(app, [*command, "--resume"])
    assert again.exit_code == 0, again.output
    longer = runner.invoke(app, [*command[:5], "--epochs", "2", *command[7:], "--resume"])
    assert longer.exit_code == 0, longer.output
    import json

    steps = [int(line.split(",")[0]) for line in (tmp_path / "r" / "metrics.csv").read_text().splitlines()[1:]]
    assert "epochs: 2" in (tmp_path / "r" / "config.yaml").read_text()
    assert max(steps) > 1 and json.loads((tmp_path / "r" / "metrics.json").read_text())["method"] == "simclr"
    changed = runner.invoke(app, [*command, "--resume", "--method", "byol"])
    assert changed.exit_code == 2 and "method.name" in changed.output and "batch_size" not in changed.output


@pytest.mark.parametrize("blank", ["", " ", "NaN"])
def test_a_missing_time_in_a_long_csv_is_refused_with_its_line(tmp_path, blank):
    from selfsup.data import load_data

    rows = ["series_id,time,x,label", "a,0,1.0,0", "a,1,2.0,0", f"a,{blank},3.0,0", "b,0,4.0,1", "b,1,5.0,1"]
    (tmp_path / "s.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(SelfsupError, match=r"s\.csv line 4 has no value in column 'time'"):
        load_data(str(tmp_path / "s.csv"), modality="timeseries")


def test_numbers_mixed_with_dates_in_the_time_column_are_refused(tmp_path):
    from selfsup.data import load_data

    rows = ["series_id,time,x", "a,2024-01-01,1.0", "a,2024,2.0", "b,2024-01-01,3.0"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(SelfsupError, match=r"m\.csv line 3, column 'time': '2024' is a number"):
        load_data(str(tmp_path / "m.csv"), modality="timeseries")


def test_more_deepcluster_prototypes_than_samples_is_one_line_before_training(tmp_path):
    from typer.testing import CliRunner

    from selfsup.cli import app

    out = tmp_path / "r"
    result = CliRunner().invoke(app, ["pretrain", "--method", "deepcluster_v2", "--epochs", "1",
                                      "--set", "method.num_prototypes=[5000]", "--out", str(out)])
    assert result.exit_code == 2 and "num_prototypes" in result.output and "Traceback" not in result.output
    assert not out.exists()

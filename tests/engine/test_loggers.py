"""--logger: metrics.csv is always written; tensorboard / mlflow / wandb add a Lightning logger
inside the run folder, and a missing package is one line naming what to install."""

from __future__ import annotations

import importlib.util

import pytest
from typer.testing import CliRunner

from selfsup.cli import app

runner = CliRunner()
TINY = ["--epochs", "1", "--batch-size", "64", "--set", "eval.random_init=false", "--set", "eval.raw_input=false",
        "--no-progress"]


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard not installed")
def test_tensorboard_logger_writes_event_files_next_to_metrics_csv(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["pretrain", "--logger", "tensorboard", "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output
    assert (out / "metrics.csv").is_file()
    events = list((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    assert "logger: tensorboard" in (out / "config.yaml").read_text()


@pytest.mark.parametrize("name", ["mlflow", "wandb"])
def test_a_logger_whose_package_is_missing_is_one_line(tmp_path, name, monkeypatch):
    real = importlib.import_module

    def missing(module, *args, **kwargs):
        if module == name:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(module, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", missing)
    out = tmp_path / "run"
    result = runner.invoke(app, ["pretrain", "--logger", name, "--out", str(out), *TINY])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"pip install {name}" in result.output and result.output.count("error:") == 1
    assert not out.exists()  # refused before the run folder was made


def test_an_unknown_logger_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["pretrain", "--logger", "neptune", "--out", str(out), *TINY])
    assert result.exit_code == 2 and "train.logger" in result.output
    assert not out.exists()

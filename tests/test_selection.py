"""Label-free selection over a grid of runs: parsing, choosing, reporting what it cost."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from selfsup.cli import app
from selfsup.errors import SelfsupError
from selfsup.selection import combinations, parse_grid, select, spearman


def _run(name, rankme, alpha, knn):
    return {"run": name, "setting": {}, "rankme": rankme, "alpha_req": alpha, "knn_acc": knn,
            "score_rankme": rankme, "score_alpha_req": -abs(alpha - 1)}


def test_parse_grid_reads_yaml_values_and_expands_every_combination():
    grid = parse_grid(["train.lr=0.001,0.004", "method.name=simclr,byol"])
    assert grid == {"train.lr": [0.001, 0.004], "method.name": ["simclr", "byol"]}
    assert len(combinations(grid)) == 4
    assert {"train.lr": 0.004, "method.name": "byol"} in combinations(grid)


@pytest.mark.parametrize("item", ["train.lr", "=1,2", "train.lr="])
def test_parse_grid_rejects_malformed_items(item):
    with pytest.raises(SelfsupError, match="--grid"):
        parse_grid([item])


def test_select_keeps_the_highest_score_and_reports_the_gap_to_the_best_accuracy():
    runs = [_run("a", 10.0, 3.0, 0.90), _run("b", 30.0, 1.5, 0.95), _run("c", 20.0, 1.1, 0.97)]
    selected, summary = select(runs, "rankme")
    assert selected["run"] == "b"
    assert summary["knn_acc"]["best_run"] == "c"
    assert summary["knn_acc"]["gap_points"] == pytest.approx(2.0)
    selected, _ = select(runs, "alpha_req")
    assert selected["run"] == "c"  # alpha closest to 1


def test_select_never_picks_a_run_with_a_nan_score():
    runs = [_run("collapsed", math.nan, 5.0, 0.1), _run("ok", 3.0, 1.0, 0.9)]
    assert select(runs, "rankme")[0]["run"] == "ok"
    with pytest.raises(SelfsupError, match="no run|No run"):
        select([_run("collapsed", math.nan, 5.0, 0.1)], "rankme")


def test_spearman_ignores_missing_values_and_needs_three_pairs():
    assert spearman([1, 2, 3, None], [10, 20, 30, 5]) == pytest.approx(1.0)
    assert spearman([1, 2], [2, 1]) is None


@pytest.mark.slow  # an end-to-end run of several seconds
def test_cli_grid_trains_each_setting_and_writes_the_selection(tmp_path):
    out = tmp_path / "grid"
    result = CliRunner().invoke(app, [
        "pretrain", "--method", "simclr", "--epochs", "1", "--no-progress", "--out", str(out),
        "--grid", "train.lr=0.001,0.002", "--select-by", "alpha_req",
        "--set", "eval.every_n_epochs=0",
    ])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "selection.json").read_text())
    assert len(saved["runs"]) == 2 and saved["summary"]["select_by"] == "alpha_req"
    assert saved["summary"]["selected_run"] in {r["run"] for r in saved["runs"]}
    assert "below the best run" in (out / "selection.html").read_text()
    assert all((tmp_path / "grid" / "runs" / name / "metrics.json").is_file()
               for name in ("00-lr=0.001", "01-lr=0.002"))


def test_cli_refuses_select_by_without_a_grid_and_a_bad_grid_value_before_training(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["pretrain", "--select-by", "rankme", "--out", str(tmp_path / "a")])
    assert result.exit_code == 2 and "--grid" in result.output
    result = runner.invoke(app, ["pretrain", "--method", "simclr", "--out", str(tmp_path / "b"),
                                 "--grid", "method.temperatur=0.1,0.2"])
    assert result.exit_code == 2 and "temperature" in result.output
    assert not (tmp_path / "b" / "runs").exists()

"""A run on interactions end to end: metrics.json, ids.json, embed --what and recommend."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from selfsup.cli import app


def test_pretrain_writes_the_ranking_figures_and_serves_them(tmp_path):
    out = tmp_path / "run"
    runner = CliRunner()
    args = ["pretrain", "--data", "synthetic_interactions", "--method", "lightgcn", "--epochs", "1", "--out", str(out),
            "--no-progress", "--batch-size", "256", "--set", "data.options.users=200", "--set",
            "data.options.items=80", "--set", "data.options.interactions=3000", "--set", "eval.every_n_epochs=0"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["recommendation"]["test"]
    assert {"pretrained", "random_init", "popularity"} <= set(test)
    for key in ("recall@20", "ndcg@20", "mrr@10", "hit@10", "coverage@20", "long_tail@20"):
        assert 0.0 <= test["pretrained"][key] <= 1.0
    assert metrics["recommendation"]["probes"]["users"]["label"] == "factor"
    ids = json.loads((out / "ids.json").read_text())
    assert len(ids["users"]) == 200

    csv = tmp_path / "items.csv"
    result = runner.invoke(app, ["embed", str(out), "--data", "synthetic_interactions", "--what", "items",
                                 "--out", str(csv)])
    assert result.exit_code == 0, result.output
    assert csv.read_text().splitlines()[1].split(",")[0] == ids["items"][0]

    result = runner.invoke(app, ["recommend", str(out), "--user", ids["users"][3], "--k", "5"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["recommend", str(out), "--user", "nobody", "--k", "5"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "is not among the 200 users" in result.output

from pathlib import Path

from typer.testing import CliRunner

from selfsup.cli import app, methods_markdown

runner = CliRunner()


def test_readme_methods_table_is_generated_from_the_registry():
    readme = Path(__file__).parents[1].joinpath("README.md").read_text()
    start, end = "<!-- methods-table:start -->\n", "\n<!-- methods-table:end -->"
    table = readme.split(start, 1)[1].split(end, 1)[0]
    assert table == methods_markdown(), "run `selfsup methods --markdown` and paste it into README.md"


def test_methods_lists_every_method_with_family_and_paper():
    result = runner.invoke(app, ["methods"])
    assert result.exit_code == 0
    for name in ("simclr", "byol", "barlow_twins", "vicreg"):
        assert name in result.output


def test_unknown_method_is_one_line_without_traceback(tmp_path):
    result = runner.invoke(app, ["pretrain", "--method", "simclrr", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "Unknown method 'simclrr'" in result.output and "'simclr'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_unknown_config_key_in_recipe_names_it(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("method: simclr\ntrain:\n  epocs: 3\n")
    result = runner.invoke(app, ["pretrain", "--config", str(recipe), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "train.epocs" in result.output and "epochs" in result.output
    assert "Traceback" not in result.output


def test_missing_data_path_is_named(tmp_path):
    result = runner.invoke(app, ["pretrain", "--data", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "nope.npz" in result.output and "Traceback" not in result.output


def test_evaluate_of_a_folder_that_is_not_a_run(tmp_path):
    result = runner.invoke(app, ["evaluate", str(tmp_path)])
    assert result.exit_code == 2
    assert "config.yaml is missing" in result.output

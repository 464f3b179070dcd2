"""Time series end to end: `selfsup pretrain --data ucr:… --method …` through the ordinary engine.

The built-in `ucr:UnitTest` (20 train / 22 test univariate series of length 24, shipped inside
aeon) keeps each run to a few seconds.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import selfsup
from selfsup.cli import app

TINY_CNN = ["encoder.name=dilated_cnn", "encoder.hidden_dim=8", "encoder.output_dim=16", "encoder.depth=2"]


def _run(tmp_path, method, *overrides, **flags):
    return selfsup.pretrain(
        method=method,
        data="ucr:UnitTest",
        epochs=1,
        batch_size=8,
        out=str(tmp_path / method),
        progress=False,
        overrides=["eval.every_n_epochs=0", *overrides],
        **flags,
    )


def test_ts2vec_from_the_cli_gets_its_encoder_views_and_the_svm_protocol(tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, [
        "pretrain", "--data", "ucr:UnitTest", "--method", "ts2vec", "--epochs", "1",
        "--out", str(out), "--no-progress",
    ])
    assert result.exit_code == 0, result.output
    # the default batch (256) does not fit 20 series: the largest power of two with >= 2 steps
    assert "batch_size: 8" in (out / "config.yaml").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["modality"] == "timeseries"
    for part in ("pretrained", "random_init", "raw_input"):
        assert 0.0 <= metrics[part]["svm_acc"] <= 1.0 and "svm_f1" in metrics[part]
    config = (out / "config.yaml").read_text()
    assert "dilated_cnn" in config and "ts2vec_crops" in config


@pytest.mark.parametrize("method", ["simclr", "vicreg", "byol"])
def test_generic_methods_run_on_series_unchanged(tmp_path, method):
    run = _run(tmp_path, method, *TINY_CNN, "method.projector_hidden_dim=16", "method.projector_dim=8")
    assert run.metrics["encoder"] == "dilated_cnn"
    assert "svm_acc" in run.metrics["pretrained"]


def test_mae_on_series_picks_the_patch_transformer(tmp_path):
    run = _run(tmp_path, "mae")
    assert run.metrics["encoder"] == "patch_transformer"


def test_a_modality_that_contradicts_the_builtin_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(app, [
        "pretrain", "--data", "ucr:UnitTest", "--modality", "image", "--out", str(tmp_path / "x"),
    ])
    assert result.exit_code != 0
    assert "holds timeseries data" in result.output


def test_collossl_trains_from_a_long_csv_whose_group_column_names_the_devices(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    lines = ["series_id,group,time,ax,ay,az,label"]
    for w in range(40):
        activity = w % 2
        for device, gain in (("wrist", 1.0), ("chest", 0.6), ("ankle", 1.5)):
            for t in range(16):
                base = gain * np.sin((1 + activity) * t / 2.0 + w)
                ax, ay, az = base + 0.1 * rng.normal(size=3)
                lines.append(f"w{w},{device},{t},{ax:.4f},{ay:.4f},{az:.4f},{'run' if activity else 'walk'}")
    (tmp_path / "har.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "pretrain", "--data", str(tmp_path / "har.csv"), "--modality", "timeseries",
        "--method", "collossl", "--epochs", "1", "--batch-size", "16", "--out", str(out),
        "--no-progress", "--set", "eval.every_n_epochs=0",
        *[part for o in TINY_CNN for part in ("--set", o)],
    ])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["input_shape"] == [3, 16, 3]  # devices, time, channels
    assert 0.0 <= metrics["pretrained"]["knn_acc"] <= 1.0


@pytest.mark.parametrize("method, views", [
    ("ts2vec", []), ("simclr", ["views.name=ts_augment", "views.crop_length=8"]),
])
def test_a_series_shorter_than_the_crop_is_named_by_its_file_row_before_anything_is_written(
    tmp_path, method, views
):
    import numpy as np

    x = np.random.default_rng(0).normal(size=(40, 20, 1))
    # ts2vec: one observed timestamp, shorter than any crop; simclr: 5, shorter than 8
    x[7, 5 if views else 1:] = np.nan
    np.savez(tmp_path / "short.npz", x=x, y=np.arange(40) % 2)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "pretrain", "--data", str(tmp_path / "short.npz"), "--modality", "timeseries",
        "--method", method, "--epochs", "1", "--out", str(out), "--no-progress",
        *[part for o in views for part in ("--set", o)],
    ])
    assert result.exit_code == 2, result.output
    assert "row 7 of" in result.output and "short.npz" in result.output
    assert "shorter than the crop" in result.output
    assert not out.exists()


def test_alignment_views_are_drawn_per_batch_so_one_full_length_crop_cannot_zero_the_score():
    """TS2Vec crops draw one length per batch; seed 0's first draw is the whole GunPoint series
    (150 of 150 steps), so views drawn once for the whole test split are identical and the
    alignment would read exactly 0. Drawn per training-sized batch, the score sees many crops."""
    import torch

    from selfsup.data import load_data
    from selfsup.engine.evaluation import VIEWS_BATCH, _views_embeddings
    from selfsup.eval import alignment
    from selfsup.registry import ENCODERS, VIEWS

    bundle = load_data("ucr:GunPoint", "timeseries")
    assert bundle.test.x.shape[0] > VIEWS_BATCH
    torch.manual_seed(0)
    assert int(torch.randint(2, 151, (1,))) == 150  # the premise: seed 0 draws the full span
    torch.manual_seed(0)
    encoder = ENCODERS.build("dilated_cnn", bundle.input_spec, hidden_dim=8, output_dim=16, depth=2)
    views = VIEWS.build("ts2vec_crops", bundle.input_spec)
    z1, z2 = _views_embeddings(encoder, views, bundle, bundle.test, seed=0)
    assert z1.shape == z2.shape == (bundle.test.x.shape[0], 16)
    assert not torch.equal(z1, z2)
    assert alignment(z1, z2) > 1e-3

"""`selfsup units fit` / `encode` on tiny runs of three modalities: a TS2Vec run on series
(timestamps), an MAE run on digits (image patches) and a wav2vec-style encoder on a folder of
.wav clips (audio frames)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import selfsup
from selfsup.cli import app
from selfsup.units import encode_units, fit_units, load_codebook

runner = CliRunner()


@pytest.fixture(scope="module")
def series_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ts2vec"
    selfsup.pretrain(method="ts2vec", data="ucr:UnitTest", epochs=1, batch_size=8, out=str(out), progress=False,
                     overrides=["eval.every_n_epochs=0", "eval.k=5", "encoder.name=dilated_cnn", "encoder.hidden_dim=8",
                                "encoder.output_dim=16", "encoder.depth=2"])
    return out


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mae"
    selfsup.pretrain(method="mae", data="digits", epochs=1, batch_size=256, out=str(out), progress=False,
                     overrides=["eval.every_n_epochs=0", "encoder.name=vit_tiny", "encoder.dim=16",
                                "encoder.depth=2", "encoder.heads=2", "method.decoder_dim=16",
                                "method.decoder_depth=1", "method.decoder_heads=2"])
    return out


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory):
    pytest.importorskip("soundfile")
    import soundfile

    folder = tmp_path_factory.mktemp("wav")
    rng = np.random.default_rng(0)
    for label, pitch in (("low", 220.0), ("high", 880.0)):
        (folder / label).mkdir()
        for i in range(8):
            t = np.arange(int(16000 * rng.uniform(0.3, 0.6))) / 16000
            clip = 0.5 * np.sin(2 * np.pi * pitch * t) + 0.05 * rng.standard_normal(len(t))
            soundfile.write(folder / label / f"{i}.wav", clip.astype(np.float32), 16000)
    out = tmp_path_factory.mktemp("runs") / "audio"
    selfsup.pretrain(method="simclr", data=str(folder), modality="audio", epochs=1, batch_size=8, out=str(out),
                     progress=False, overrides=[
                         "eval.every_n_epochs=0", "eval.k=3", "views.name=none", "encoder.name=wav2vec_transformer",
                         "encoder.conv_channels=16", "encoder.dim=16", "encoder.depth=2", "encoder.heads=2",
                         "method.projector_hidden_dim=16", "method.projector_dim=8"])
    return out


def test_units_fit_on_series_timestamps_saves_the_codebook_and_its_metrics(series_run, tmp_path):
    result = runner.invoke(app, ["units", "fit", str(series_run), "--k", "8", "--out", str(tmp_path / "cb")])
    assert result.exit_code == 0, result.output
    assert "pnmi" in result.output and "bag_of_units_acc" in result.output
    facts = json.loads((tmp_path / "cb.json").read_text())
    assert facts["k"] == 8 and facts["dim"] == 16 and facts["modality"] == "timeseries" and facts["layer"] is None
    # ucr:UnitTest: 42 series of 24 steps, one unit per timestamp
    assert facts["metrics"]["frames"] == 42 * 24 and facts["metrics"]["samples"] == 42
    assert 0.0 <= facts["metrics"]["pnmi"] <= 1.0 and facts["metrics"]["usage"] > 0.5
    assert load_codebook(tmp_path / "cb.safetensors").centroids.shape == (8, 16)


def test_units_encode_writes_one_sequence_per_sample_and_dedup_keeps_run_lengths(series_run, tmp_path):
    codebook = fit_units(series_run, k=6, out=tmp_path / "cb").path
    result = runner.invoke(app, ["units", "encode", str(codebook), "--out", str(tmp_path / "u.npz")])
    assert result.exit_code == 0, result.output
    full = np.load(tmp_path / "u.npz")
    assert len(full["offsets"]) == 43 and np.all(np.diff(full["offsets"]) == 24)
    assert full["values"].min() >= 0 and full["values"].max() < 6 and int(full["k"]) == 6
    encode_units(codebook, out=tmp_path / "d.npz", dedup_units=True)
    merged = np.load(tmp_path / "d.npz")
    for i in range(42):
        a, b = merged["offsets"][i:i + 2]
        expanded = np.repeat(merged["values"][a:b], merged["run_lengths"][a:b])
        assert np.array_equal(expanded, full["values"][full["offsets"][i]:full["offsets"][i + 1]])


def test_units_from_a_layer_use_that_block_and_the_layer_is_saved(series_run, tmp_path):
    result = fit_units(series_run, k=4, layer=1, out=tmp_path / "l1")
    # dilated_cnn: hidden blocks are 8 wide, the output block 16
    assert result.codebook.dim == 8 and result.codebook.layer == 1
    assert encode_units(result.path)["frames"] == 42 * 24


def test_layer_out_of_range_is_one_error_naming_the_valid_range(series_run):
    result = runner.invoke(app, ["units", "fit", str(series_run), "--k", "4", "--layer", "9"])
    assert result.exit_code == 2
    assert "--layer 9 is out of range" in result.output and "layers 1..3" in result.output


def test_a_codebook_of_another_dimension_is_one_clear_error(series_run, tmp_path):
    codebook = fit_units(series_run, k=4, out=tmp_path / "cb").path
    result = runner.invoke(app, ["units", "encode", str(codebook), "--run", str(series_run),
                                 "--out", str(tmp_path / "u.npz")])
    assert result.exit_code == 0
    facts = json.loads(codebook.with_suffix(".json").read_text())
    facts["dim"] = 3
    codebook.with_suffix(".json").write_text(json.dumps(facts))
    result = runner.invoke(app, ["units", "encode", str(codebook), "--out", str(tmp_path / "u.npz")])
    assert result.exit_code == 2 and "do not match" in result.output
    from selfsup.units import Codebook

    wrong = Codebook(np.zeros((4, 3), np.float32), run=str(series_run), layer=None, modality="timeseries",
                     data="ucr:UnitTest").save(tmp_path / "wrong")
    result = runner.invoke(app, ["units", "encode", str(wrong), "--out", str(tmp_path / "u.npz")])
    assert result.exit_code == 2
    assert "codebook has dimension 3" in result.output and "dimension 16" in result.output


def test_units_fit_on_image_patches(image_run, tmp_path):
    result = fit_units(image_run, k=16, out=tmp_path / "cb")
    metrics = result.codebook.metrics
    assert result.codebook.modality == "image" and result.codebook.dim == 16
    assert metrics["frames"] == 1797 * 16  # 8x8 digits, 2x2 patches: 16 tokens each
    assert 0.0 <= metrics["phone_purity"] <= 1.0 and metrics["bag_of_units_acc"] > 0.2
    summary = encode_units(result.path)
    assert summary["samples"] == 1797 and np.all(np.diff(summary["arrays"]["offsets"]) == 16)


def test_image_layer_drops_the_cls_token(image_run, tmp_path):
    result = fit_units(image_run, k=4, layer=2, out=tmp_path / "cb")
    assert result.codebook.metrics["frames"] == 1797 * 16


@pytest.mark.filterwarnings("ignore:Clips of")
def test_units_on_audio_frames_leave_the_padding_out(audio_run, tmp_path):
    result = fit_units(audio_run, k=8, layer=1, out=tmp_path / "cb")
    assert result.codebook.modality == "audio" and result.codebook.dim == 16
    assert "bag_of_units_acc" in result.codebook.metrics
    summary = encode_units(result.path)
    # one unit per 20 ms frame of each clip's own length: a padded clip's extra frames take none
    encoder = selfsup.load(audio_run)
    import soundfile

    folder = Path(result.codebook.data)
    samples = torch.tensor([soundfile.info(str(f)).frames for f in sorted(folder.rglob("*.wav"))])
    expected = sorted(encoder.frames(samples).tolist())
    assert sorted(np.diff(summary["arrays"]["offsets"]).tolist()) == expected
    assert len(set(expected)) > 1


def test_more_units_than_frames_and_an_encoder_without_frames_are_one_error_each(series_run):
    from selfsup.errors import SelfsupError
    from selfsup.registry import ENCODERS
    from selfsup.units.features import check_frame_encoder

    with pytest.raises(SelfsupError, match="needs at least 5000 frames"):
        fit_units(series_run, k=5000)
    with pytest.raises(SelfsupError, match="one vector per sample only"):
        check_frame_encoder(ENCODERS.build("small_cnn", (1, 8, 8)), "runs/x")


def test_encode_with_a_run_that_has_no_codebook_of_its_own_says_to_fit_one(series_run, tmp_path):
    result = runner.invoke(app, ["units", "encode", str(series_run), "--out", str(tmp_path / "u.npz")])
    assert result.exit_code == 2 and "has no codebook of its own" in result.output
    result = runner.invoke(app, ["units", "encode", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "u.npz")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_unit_sequences_follow_the_files_row_order_after_a_random_split(series_run, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 24, 1)).astype(np.float32)
    for i in range(20):
        x[i, 5 + i:] = np.nan  # row i is 5 + i steps long
    np.savez(tmp_path / "series.npz", x=x, y=np.arange(20) % 2)
    codebook = fit_units(series_run, k=4, out=tmp_path / "cb").path
    summary = encode_units(codebook, data=str(tmp_path / "series.npz"), modality="timeseries")
    assert np.diff(summary["arrays"]["offsets"]).tolist() == [5 + i for i in range(20)]
    assert summary["arrays"]["y"].tolist() == (np.arange(20) % 2).tolist()

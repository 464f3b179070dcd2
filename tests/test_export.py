"""selfsup export: a run's encoder as TorchScript / ONNX, giving PyTorch's embeddings back."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import selfsup
from selfsup.cli import app
from selfsup.errors import SelfsupError
from selfsup.export import export


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    selfsup.pretrain(method="simclr", data="digits", epochs=1, out=str(out), progress=False,
                     overrides=["encoder.name=small_cnn", "encoder.width=8", "encoder.depth=2", "eval.every_n_epochs=0",
                                "eval.random_init=false", "eval.raw_input=false"])
    return out


def test_torchscript_round_trip_gives_the_same_embeddings_for_any_batch_size(run, tmp_path):
    path = tmp_path / "encoder.pt"
    assert export(run, "torchscript", path) <= 1e-4
    x = torch.rand(7, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(torch.jit.load(str(path))(x), selfsup.load(run).eval()(x), atol=1e-4)


def test_onnx_round_trip_through_onnx_runtime(run, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    result = CliRunner().invoke(app, ["export", str(run), "--format", "onnx", "--out", str(tmp_path / "e.onnx")])
    assert result.exit_code == 0, result.output
    assert "differ from PyTorch's by at most" in result.output
    x = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    got = onnxruntime.InferenceSession(str(tmp_path / "e.onnx")).run(None, {"x": x})[0]
    with torch.no_grad():
        assert np.allclose(got, selfsup.load(run).eval()(torch.from_numpy(x)).numpy(), atol=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.onnx"]  # weights inside, no partial file


@pytest.mark.parametrize(
    ("fmt", "name", "message"),
    [("tflite", "e.tflite", "--format is one of torchscript, onnx"), ("torchscript", "e.onnx", "should end in .pt")],
)
def test_bad_format_or_suffix_is_one_error(run, tmp_path, fmt, name, message):
    with pytest.raises(SelfsupError, match=message):
        export(run, fmt, tmp_path / name)


def test_an_encoder_fed_batch_dicts_is_refused_naming_why(tmp_path):
    (tmp_path / "encoder.json").write_text(json.dumps({"name": "tabular_mlp", "modality": "tabular"}))
    with pytest.raises(SelfsupError, match="tabular encoder takes a batch of several parts"):
        export(tmp_path, "torchscript", tmp_path / "e.pt")
    assert not (tmp_path / "e.pt").exists()

"""A paired run end to end: pretrain CLIP on a pairs.yaml, its paired scores in metrics.json, the
encoder loaded back, and fine-tuning of one part (and the errors of --part)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import selfsup
from selfsup.errors import SelfsupError
from selfsup.eval.finetune import FinetuneConfig

N = 120


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paired_run")
    rng = np.random.default_rng(0)
    y = np.arange(N) % 3
    images = (rng.random((N, 8, 8)) * 60 + y[:, None, None] * 60).astype(np.uint8)
    series = (rng.normal(size=(N, 24, 1)) + y[:, None, None]).astype(np.float32)
    order = rng.permutation(N)
    np.savez(folder / "images.npz", x=images, y=y, id=np.arange(N))
    np.savez(folder / "series.npz", x=series[order], id=order)
    (folder / "pairs.yaml").write_text(yaml.safe_dump({"parts": {
        "image": {"data": "images.npz", "modality": "image"},
        "series": {"data": "series.npz", "modality": "timeseries"}}}))
    out = folder / "run"
    selfsup.pretrain(method="clip", data=str(folder / "pairs.yaml"), epochs=2, batch_size=32, out=str(out),
                     progress=False, overrides=["encoder.name=paired", "encoder.parts.series.name=dilated_cnn",
                                                "encoder.parts.series.depth=2", "encoder.parts.series.hidden_dim=8",
                                                "encoder.parts.series.output_dim=16"])
    return out


def test_a_paired_run_records_retrieval_and_per_part_scores(run):
    metrics = json.loads((run / "metrics.json").read_text())
    for row in ("pretrained", "random_init"):
        for key in ("retrieval_image_to_series_r@1", "retrieval_series_to_image_class_p@1",
                    "retrieval_image_to_series_median_rank", "part_image_linear_acc", "part_series_linear_acc",
                    "fused_without_image_linear_acc", "knn_acc"):
            assert key in metrics[row], (row, key)
    encoder = selfsup.load(run)
    assert sorted(encoder.parts) == ["image", "series"] and encoder.output_dim == sum(
        p.output_dim for p in encoder.parts.values())


def test_finetune_one_part_of_a_paired_run(run):
    result = selfsup.finetune(run, labels=[0.5], seeds=1, part="series", config=FinetuneConfig(epochs=2, patience=1))
    assert result["part"] == "series" and result["written_to"].endswith("finetune_series.json")
    assert {row["start"] for row in result["rows"]} == {"pretrained", "scratch"}
    assert result["train"] + result["test"] == N


def test_finetune_the_whole_paired_encoder(run):
    result = selfsup.finetune(run, labels=[1.0], seeds=1, scratch=False, config=FinetuneConfig(epochs=1, patience=1))
    assert result["rows"][0]["start"] == "pretrained" and 0.0 <= result["rows"][0]["mean"] <= 1.0


def test_a_part_the_run_does_not_have_is_one_error(run):
    with pytest.raises(SelfsupError, match="no part 'audio'.*image, series"):
        selfsup.finetune(run, labels=[0.5], seeds=1, part="audio")


def test_the_report_has_the_joint_map_and_retrieval_examples(run):
    report = (run / "report.html").read_text()
    assert "Joint space, one colour per part" in report
    assert "-&gt; nearest series" in report and "-&gt; nearest image" in report

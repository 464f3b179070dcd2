"""DCCF and LightGCL learn on ml-100k: a few epochs from their recipes (contrast on) take each past
the popularity ranking and far past its random-init twin on the test split (slow lane: DCCF's
adaptive graphs take ~1 s a step on 2 loaded cores)."""

from __future__ import annotations

from pathlib import Path

import pytest

import selfsup

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.parametrize("name, epochs, overrides", [
    # DCCF: its contrast from the second epoch on (the recipe waits 5)
    ("dccf", 4, ["method.ssl_warmup_steps=40"]),
    ("lightgcl", 5, []),
])
def test_method_beats_popularity_and_random_init_on_ml100k(name, epochs, overrides, tmp_path):
    result = selfsup.pretrain(str(ROOT / "configs" / f"{name}_ml-100k.yaml"), epochs=epochs, out=str(tmp_path / "run"),
                              progress=False, overrides=["eval.every_n_epochs=0", *overrides])
    test = result.metrics["recommendation"]["test"]
    assert test["pretrained"]["recall@20"] > test["popularity"]["recall@20"]
    assert test["pretrained"]["recall@20"] > 5 * test["random_init"]["recall@20"]
    assert test["pretrained"]["ndcg@20"] > test["popularity"]["ndcg@20"]

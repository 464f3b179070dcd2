"""Each graph method of the issue learns: with its recipe, its pretrained encoder beats the same
encoder at its random initialisation under the papers' protocol — node methods on ``sbm_citation``
(Planetoid probe), GraphCL and InfoGraph on ``synthetic_motifs`` (InfoGraph's 10-fold SVM).

Slow (minutes on 2 cores): the epochs are cut from the recipes' where the gap is already wide
(benchmarks/RESULTS.md has the full runs)."""

import pytest

import selfsup

QUIET = ["eval.every_n_epochs=0", "eval.raw_input=false"]


@pytest.mark.slow
@pytest.mark.parametrize("method, epochs", [("grace", 10), ("dgi", 10), ("bgrl", 10), ("mvgrl", 10), ("graphmae", 20)])
def test_node_method_beats_its_random_init_encoder_on_sbm_citation(method, epochs, tmp_path):
    # GraphMAE needs its recipe's 20 epochs (at 10: 0.806 vs 0.803)
    result = selfsup.pretrain(f"configs/{method}_sbm_citation.yaml", out=str(tmp_path / "r"), progress=False,
                              overrides=[*QUIET, f"train.epochs={epochs}"])
    pretrained, random_init = result.metrics["pretrained"], result.metrics["random_init"]
    assert pretrained["planetoid_acc"] > random_init["planetoid_acc"] + 0.02, (pretrained, random_init)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["graphcl", "infograph"])
def test_graph_method_beats_its_random_init_encoder_on_synthetic_motifs(method, tmp_path):
    result = selfsup.pretrain(f"configs/{method}_synthetic_motifs.yaml", out=str(tmp_path / "r"), progress=False,
                              overrides=QUIET)
    pretrained, random_init = result.metrics["pretrained"], result.metrics["random_init"]
    assert pretrained["svm_cv_acc"] > random_init["svm_cv_acc"] + 0.02, (pretrained, random_init)

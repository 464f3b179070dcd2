"""The self-supervised recommenders learn: a few hundred steps on a small synthetic catalogue take
each of them past the popularity ranking, and the BPR warm-up is what lets them (without it the
contrast swamps BPR at Xavier initialisation and BPR stays at ln 2; see
``selfsup.modalities.interactions.methods.base``)."""

from __future__ import annotations

import pytest
import torch

from selfsup.data import load_data
from selfsup.eval.recommendation import embedding_scorer, popularity_scores, ranking_metrics
from selfsup.registry import ENCODERS, METHODS, VIEWS

SSL_METHODS = ["sgl", "simgcl", "xsimgcl", "ncl"]
STEPS, WARMUP = 150, 50


@pytest.fixture(scope="module")
def source():
    # large enough for the stall to show (Xavier scale ~ 1/sqrt(catalogue)), small enough for ~1 s a run
    return load_data("synthetic_interactions", users=500, items=200, interactions=8000)


def train(name, source, **options):
    torch.manual_seed(0)
    encoder_options = {"layers": 2, "keep_ego": False} if name in ("simgcl", "xsimgcl") else {}
    encoder = ENCODERS.build("lightgcn", source.input_spec, **encoder_options)
    if name == "ncl":
        options = {"num_clusters": 10, **options}
    method = METHODS.build(name, encoder, VIEWS.build("none", source.input_spec), **options)
    method.prepare(source.n_train)
    optimizer = torch.optim.Adam(method.parameters(), lr=5e-3)
    loader = torch.utils.data.DataLoader(source.train, batch_size=256, shuffle=True, drop_last=True,
                                         collate_fn=source.collate)
    steps = 0
    while steps < STEPS:
        for batch in loader:
            out = method(batch)
            optimizer.zero_grad()
            out["loss"].backward()
            optimizer.step()
            steps += 1
            if steps == STEPS:
                break
    with torch.no_grad():
        recall = ranking_metrics(embedding_scorer(*encoder.user_item_embeddings()), source.recommendation)["recall@20"]
    return method, float(out["bpr"]), recall


def popularity_recall(source):
    return ranking_metrics(popularity_scores(source.recommendation), source.recommendation)["recall@20"]


@pytest.mark.parametrize("name", SSL_METHODS)
def test_ssl_method_beats_popularity_after_its_bpr_warmup(name, source):
    method, bpr, recall = train(name, source, ssl_warmup_steps=WARMUP)
    assert int(method.steps_done) == STEPS
    assert bpr < 0.5
    assert recall > popularity_recall(source)


@pytest.mark.parametrize("name", ["sgl", "simgcl"])
def test_without_the_warmup_the_contrast_stalls_bpr(name, source):
    _, bpr, recall = train(name, source, ssl_warmup_steps=0)
    assert bpr > 0.65
    assert recall < popularity_recall(source)


def test_ssl_terms_start_after_the_warmup_and_the_step_count_is_checkpointed(source):
    torch.manual_seed(0)
    encoder = ENCODERS.build("lightgcn", source.input_spec, layers=2, keep_ego=False)
    method = METHODS.build("simgcl", encoder, VIEWS.build("none", source.input_spec), ssl_warmup_steps=2)
    method.prepare(source.n_train)
    batch = source.collate(source.train.__getitems__(list(range(64))))
    assert ["ssl" in method(batch) for _ in range(3)] == [False, False, True]
    assert int(method.state_dict()["steps_done"]) == 3
    method.eval()
    method(batch)  # an evaluation pass is not a training step
    assert int(method.steps_done) == 3

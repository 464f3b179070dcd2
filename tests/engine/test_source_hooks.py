"""The hooks a data source and a method have into the final evaluation and the run folder:
label-free scores the data defines, figures only the method computes, files kept with the run,
and held-out samples rendered as text beside their nearest neighbours in the report."""

import json

import torch

import selfsup
from selfsup.data.base import DataSource
from selfsup.finished import nearest_neighbour_texts
from selfsup.methods.simclr import SimCLR


def test_source_and_method_hooks_reach_metrics_run_folder_and_report(tmp_path, tiny_run, monkeypatch):
    scored = []

    def label_free_scores(self, encoder):
        scored.append(encoder)
        return {"aligned_r@1": 0.5 + 0.25 * len(scored)}

    monkeypatch.setattr(DataSource, "label_free_scores", label_free_scores)
    monkeypatch.setattr(DataSource, "sample_text", lambda self, test, i: f"digit sample {i}")
    monkeypatch.setattr(DataSource, "run_files", lambda self: {"tokenizer.json": '{"kept": true}'})
    monkeypatch.setattr(SimCLR, "final_scores", lambda self, source: {"pseudo_perplexity": 12.5})
    selfsup.pretrain(progress=False, **tiny_run(tmp_path / "run", epochs=1))

    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    # scored once for the pretrained encoder, once for its random-init twin, each in its own row
    assert len(scored) == 2 and scored[0] is not scored[1]
    assert metrics["pretrained"]["aligned_r@1"] == 0.75 and metrics["random_init"]["aligned_r@1"] == 1.0
    assert metrics["pretrained"]["pseudo_perplexity"] == 12.5
    assert "pseudo_perplexity" not in metrics["random_init"]
    assert json.loads((tmp_path / "run" / "tokenizer.json").read_text()) == {"kept": True}
    report = (tmp_path / "run" / "report.html").read_text()
    assert "Nearest neighbours" in report and "digit sample" in report


class _Rendered:
    """A source stand-in with held-out labels and a text for each sample."""

    test = object()
    class_names = ["even", "odd"]

    def __init__(self, n):
        self.held_out = (None, torch.arange(n) % 2)

    def sample_text(self, test, i):
        return f"t{i}"


def test_nearest_neighbours_are_the_most_similar_other_samples_with_their_labels():
    # samples 0/1, 2/3, 4/5 point the same way: each one's nearest other sample is its twin
    directions = torch.eye(3).repeat_interleave(2, dim=0) + 0.01 * torch.arange(6.0)[:, None]
    pairs = nearest_neighbour_texts(_Rendered(6), directions, seed=0, samples=6, k=1)
    assert len(pairs) == 6
    for sample, near in pairs:
        i = int(sample.split()[0][1:])
        assert near == [f"t{i ^ 1} [{'odd' if (i ^ 1) % 2 else 'even'}]"]


def test_no_neighbour_table_for_data_without_text():
    source = _Rendered(4)
    source.sample_text = lambda test, i: None
    assert nearest_neighbour_texts(source, torch.rand(4, 3), seed=0) == []

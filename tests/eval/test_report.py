"""The self-contained HTML report and the metrics.csv reader."""

from __future__ import annotations

import re

import numpy as np
import pytest

from selfsup.errors import SelfsupError
from selfsup.eval import read_metrics_csv, write_report

# Shaped like the engine's resolved config: encoder None (modality default), seed under train.
CONFIG = {"method": {"name": "simclr", "temperature": 0.5}, "encoder": None,
          "data": {"name": "digits"}, "train": {"epochs": 3, "batch_size": 64, "seed": 7}}
FINAL = {
    "data": {"name": "digits", "n_train": 1437, "n_test": 360, "num_classes": 10},
    "pretrained": {"knn_acc": 0.9312, "linear_acc": 0.9511, "rankme": 23.25},
    "random_init": {"knn_acc": 0.5123, "rankme": 4.5},
    "raw_input": {"knn_acc": 0.9777},
    "notes": ["skipped 2 unreadable files: a.png, b.png"],
    "seconds": 12.5,
    "encoder": "mlp",  # the engine records the resolved encoder name here
}


def fake_rows(steps=40):
    rows = []
    for step in range(steps):
        rows.append({"step": step, "epoch": step // 10, "loss": 5 * np.exp(-step / 10), "lr": 0.1,
                     "temperature": "", "rankme": None})
        if step % 10 == 9:  # sparse rows from the epoch-level logger
            rows.append({"step": step, "epoch": step // 10, "rankme": 10.0 + step / 10,
                         "collapse_ratio": 0.8, "knn_acc": 0.5 + step / 100, "loss": ""})
    return rows


def external_references(text):
    return re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text)


def test_report_embeds_plots_and_final_table(tmp_path):
    rng = np.random.default_rng(0)
    emb, labels = rng.normal(size=(120, 16)), rng.integers(0, 3, 120)
    path = write_report(tmp_path / "run" / "report.html", title="digits-simclr", config=CONFIG,
                        metrics_rows=fake_rows(), final=FINAL, test_emb=emb, test_y=labels,
                        class_names=["zero", "one", "two"])
    text = path.read_text(encoding="utf-8")
    assert text.count('<img alt="') == 4  # loss, monitors, kNN, embedding map
    assert '<img alt="Embedding map" src="data:image/png;base64,' in text
    for value in ("0.9312", "0.9511", "23.2500", "0.5123", "0.9777"):
        assert value in text
    assert "—" in text  # raw_input has no linear_acc
    assert "<td>simclr</td>" in text and "<td>mlp</td>" in text
    assert "<td>64</td>" in text and "<td>7</td>" in text
    assert "skipped 2 unreadable files" in text
    assert "<details>" in text and "temperature: 0.5" in text
    assert external_references(text) == []
    assert "<script" not in text and "<link" not in text


def test_report_without_rows_or_embeddings_has_no_plots(tmp_path):
    path = write_report(tmp_path / "report.html", title="empty", config={}, metrics_rows=[],
                        final={})
    text = path.read_text(encoding="utf-8")
    assert "<h1>empty</h1>" in text and "<img" not in text
    assert "No final evaluation" in text
    assert external_references(text) == []


def test_report_with_unlabeled_embeddings_and_method_logs(tmp_path):
    emb = np.random.default_rng(0).normal(size=(50, 4))
    rows = [{"step": s, "epoch": 0, "teacher_momentum": 0.99 + s / 1e4} for s in range(10)]
    text = write_report(tmp_path / "r.html", title="t", config={"seed": 0}, metrics_rows=rows,
                        final={"pretrained": {"rankme": 3.0}}, test_emb=emb).read_text()
    assert 'alt="Method-specific logs"' in text and "unlabeled" in text


def test_report_uses_pca_map_for_large_sets(tmp_path, monkeypatch):
    from selfsup.eval import plots

    monkeypatch.setattr(plots, "TSNE_MAX_POINTS", 20)
    emb = np.random.default_rng(0).normal(size=(200, 8))
    text = write_report(tmp_path / "r.html", title="t", config={}, metrics_rows=[], final={},
                        test_emb=emb, test_y=np.arange(200) % 30).read_text()
    assert "PCA (2 components)" in text and "30 classes" in text


def test_report_escapes_html_in_titles_and_notes(tmp_path):
    text = write_report(tmp_path / "r.html", title="<b>x</b>", config={}, metrics_rows=[],
                        final={"notes": ["<script>alert(1)</script>"]}).read_text()
    assert "<script>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text


def test_read_metrics_csv_parses_numbers_and_empty_cells(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,epoch,loss,knn_acc,note\n0,0,1.5,,warmup\n10,1,,0.75,\n")
    rows = read_metrics_csv(path)
    assert rows == [{"step": 0, "epoch": 0, "loss": 1.5, "knn_acc": None, "note": "warmup"},
                    {"step": 10, "epoch": 1, "loss": None, "knn_acc": 0.75, "note": None}]
    assert isinstance(rows[0]["step"], int)
    write_report(tmp_path / "r.html", title="t", config={}, metrics_rows=rows, final={})


def test_read_metrics_csv_names_a_missing_file(tmp_path):
    with pytest.raises(SelfsupError, match="nope.csv"):
        read_metrics_csv(tmp_path / "nope.csv")


def test_report_notes_a_plot_it_could_not_draw(tmp_path):
    emb = np.ones((20, 3))
    emb[0, 0] = np.nan
    with pytest.warns(UserWarning, match="Embedding map"):
        path = write_report(tmp_path / "r.html", title="t", config={}, metrics_rows=[],
                            final={}, test_emb=emb)
    text = path.read_text()
    assert "<img" not in text and "Plot &#x27;Embedding map&#x27; skipped" in text


def test_report_puts_a_recorded_spread_beside_its_mean(tmp_path):
    final = {**FINAL, "pretrained": {"split_acc": 0.8123, "split_acc_std": 0.0125}}
    text = write_report(tmp_path / "report.html", title="t", config=CONFIG, metrics_rows=[], final=final
                        ).read_text(encoding="utf-8")
    assert "0.8123 ± 0.0125" in text
    assert "split_acc_std" not in text

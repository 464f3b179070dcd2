"""The run report: one self-contained HTML file with the final scores and the training plots.

Everything is inline (plots as base64 PNG rendered with matplotlib's Agg canvas, CSS in a
``<style>`` block), so the file can be mailed, attached to an issue or opened offline. A plot
whose data is missing is left out; a plot that fails is replaced by a note — a report must
never be what crashes at the end of a long run.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from selfsup.errors import SelfsupError
from selfsup.eval.plots import (
    EmbeddingMap,
    accuracy_figure,
    embedding_figure,
    extra_figure,
    loss_figure,
    monitor_figure,
    png_base64,
    to_number,
)

COLUMNS = ("pretrained", "random_init", "raw_input")
COLUMN_TITLES = {"pretrained": "pretrained", "random_init": "random init", "raw_input": "raw input"}
# Known metrics in display order, with how to read them.
METRIC_HELP = {
    "knn_acc": "weighted kNN accuracy (Wu et al. 2018) — higher is better",
    "linear_acc": "linear probe accuracy — higher is better",
    "linear_f1": "linear probe macro-F1 — higher is better",
    "svm_acc": "RBF-SVM probe accuracy, C by cross-validation (TS2Vec protocol) — higher is better",
    "svm_f1": "RBF-SVM probe macro-F1 — higher is better",
    "planetoid_acc": "linear probe on the graph's given training nodes (Planetoid protocol) — higher is better",
    "planetoid_f1": "its macro-F1 — higher is better",
    "split_acc": "linear probe, mean ± std over 10 random 10/10/80 % node splits — higher is better",
    "split_f1": "its macro-F1 (mean) — higher is better",
    "svm_cv_acc": "RBF-SVM, mean ± std over 10-fold cross-validation (InfoGraph protocol) — higher is better",
    "rankme": "effective rank (Garrido et al. 2023) — ~1 collapsed, up to D",
    "alpha_req": "eigenspectrum decay α (Agrawal et al. 2022) — best near 1",
    "emb_std": "std of normalised embeddings — 1/√D healthy, 0 collapsed",
    "collapse_ratio": "emb_std·√D — near 1 healthy, near 0 collapsed",
    "uniformity": "Wang & Isola 2020 — lower is more uniform",
    "alignment": "Wang & Isola 2020 — lower means views agree more",
}
HEADER_KEYS = {  # label -> config keys tried in order
    "method": ("method",),
    "encoder": ("encoder", "backbone"),
    "data": ("data", "dataset"),
    "epochs": ("epochs", "max_epochs"),
    "batch size": ("batch_size",),
    "seed": ("seed",),
}
MISSING = "—"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:980px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.3em .7em}
th{background:#f3f3f3;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.help{color:#666;font-size:.9em}img{max-width:100%;height:auto}
.notes li{color:#8a5a00}.caption{color:#555;font-size:.92em}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.88em}
summary{cursor:pointer;font-weight:600}
"""


def _parse_cell(text: str) -> Any:
    if text is None or text.strip() == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def read_metrics_csv(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Parse a ``metrics.csv`` (header row) into one dict per row.

    Integer strings become ``int``, other numeric strings ``float``, empty cells ``None``;
    anything else stays a string.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return [{key: _parse_cell(value) for key, value in row.items() if key is not None}
                    for row in csv.DictReader(handle)]
    except OSError as err:
        raise SelfsupError(f"Cannot read metrics file {path}: {err.strerror or err}.") from err


def _format(value: Any) -> str:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return html.escape(str(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"


def _format_spread(column: dict, name: str) -> str:
    """``column[name]``, followed by ``± column[name_std]`` when the spread was recorded."""
    value, spread = column.get(name), column.get(f"{name}_std")
    if spread is None or value is None:
        return _format(value)
    return f"{_format(value)} ± {_format(spread)}"


def _config_value(config: dict, keys: Sequence[str]) -> Any:
    """First value found under any of ``keys``, searching nested dicts depth-first."""
    for key in keys:
        if key in config:
            return config[key]
    for value in config.values():
        if isinstance(value, dict):
            found = _config_value(value, keys)
            if found is not None:
                return found
    return None


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("name", json.dumps(value, default=str)))
    return MISSING if value is None else str(value)


def _plain(value: Any) -> Any:
    """A copy of ``value`` made of YAML-safe types (paths, tensors … become strings)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _header(title: str, config: dict, final: dict) -> str:
    # The engine also records resolved names in ``final`` (e.g. the modality's default
    # encoder when the config says ``encoder: null``); they fill what the config leaves empty.
    items = [
        (label, _describe(_config_value(config, keys) if _config_value(config, keys) is not None
                          else final.get(label)))
        for label, keys in HEADER_KEYS.items()
    ]
    data = final.get("data")
    if isinstance(data, dict) and data:
        items.append(("data details", ", ".join(f"{k}={v}" for k, v in data.items())))
    seconds = to_number(final.get("seconds"))
    if seconds is not None:
        parts = [(label, to_number(final.get(key))) for label, key in (("training", "train_seconds"),
                                                                        ("evaluation", "eval_seconds"))]
        split = ", ".join(f"{label} {_duration(value)}" for label, value in parts if value is not None)
        items.append(("run time", _duration(seconds) + (f" ({split})" if split else "")))
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in items)
    return f"<h1>{html.escape(title)}</h1>\n<table>{rows}</table>"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


def _final_table(final: dict) -> str:
    columns = {c: final.get(c) if isinstance(final.get(c), dict) else {} for c in COLUMNS}
    names = [m for m in METRIC_HELP if any(m in col for col in columns.values())]
    names += sorted({m for col in columns.values() for m in col} - set(names))
    # a mean's spread goes in the mean's cell: "0.9120 ± 0.0040"
    names = [m for m in names if not (m.endswith("_std") and m[: -len("_std")] in names)]
    if not names:
        return "<p>No final evaluation was recorded.</p>"
    head = "".join(f"<th>{COLUMN_TITLES[c]}</th>" for c in COLUMNS)
    body = "".join(
        f"<tr><th>{html.escape(str(name))}</th>"
        + "".join(f'<td class="num">{_format_spread(columns[c], name)}</td>' for c in COLUMNS)
        + f'<td class="help">{html.escape(METRIC_HELP.get(name, ""))}</td></tr>'
        for name in names
    )
    return f"<table><tr><th>metric</th>{head}<th>reading</th></tr>{body}</table>"


def _ranking_table(final: dict) -> list[str]:
    """The full-ranking figures of a run on interactions (``final["recommendation"]``): the
    model, its random-init twin and the popularity ranking side by side, at every K; nothing for
    other runs."""
    section = final.get("recommendation") or {}
    split = "test" if section.get("test") else "valid"
    figures = section.get(split) or {}
    columns = [c for c in ("pretrained", "random_init", "popularity") if isinstance(figures.get(c), dict)]
    if not columns:
        return []
    names = [m for m in figures[columns[0]] if "@" in m]
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(f"<tr><th>{html.escape(m)}</th>"
                   + "".join(f'<td class="num">{_format(figures[c].get(m))}</td>' for c in columns) + "</tr>"
                   for m in names)
    users = figures[columns[0]].get("users")
    caption = (f"Full ranking over every item, each user's earlier items excluded{f', {users:,} users' if users else ''}"
               "; long_tail: the share of the top-K slots given to items outside the most popular 20 %.")
    return [f"<h2>Ranking ({split} split)</h2>", f'<p class="caption">{html.escape(caption)}</p>',
            f"<table><tr><th>metric</th>{head}</tr>{body}</table>"]


def _neighbour_table(neighbours: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Held-out samples and their nearest neighbours by cosine similarity, as text."""
    if not neighbours:
        return []
    body = "".join(
        f"<tr><td>{html.escape(sample)}</td><td><ol>"
        + "".join(f"<li>{html.escape(n)}</li>" for n in near) + "</ol></td></tr>"
        for sample, near in neighbours
    )
    return ["<h2>Nearest neighbours</h2>",
            '<p class="caption">A few held-out samples and the held-out samples closest to them by the '
            "cosine similarity of their embeddings.</p>",
            f"<table><tr><th>sample</th><th>nearest neighbours</th></tr>{body}</table>"]


def _config_dump(config: dict) -> str:
    try:
        return yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        return json.dumps(config, indent=2, default=str)


def write_report(
    path: str | os.PathLike,
    *,
    title: str,
    config: dict,
    metrics_rows: list[dict],
    final: dict,
    test_emb: Any = None,
    test_y: Any = None,
    class_names: Sequence[str] | None = None,
    maps: Sequence[EmbeddingMap] = (),
    neighbours: Sequence[tuple[str, Sequence[str]]] = (),
) -> Path:
    """Write the run's report as one self-contained HTML file.

    Args:
        path: file to write (parent folders are created; replaced atomically).
        title: heading of the report (usually the run name).
        config: the resolved run configuration; ``method``, ``encoder``, ``data``,
            ``epochs``, ``batch_size`` and ``seed`` are shown in the header wherever they sit
            in the nesting, and the whole of it in a collapsible YAML block.
        metrics_rows: rows of ``metrics.csv`` (see :func:`read_metrics_csv`), each with
            ``step``/``epoch`` and any of ``loss``, ``lr``, ``rankme``, ``emb_std``,
            ``collapse_ratio``, ``knn_acc``, ``linear_acc`` or method-specific scalars;
            missing values are ``None`` or ``''``.
        final: ``{"data": describe-dict, "pretrained": {metric: value}, "random_init": {...},
            "raw_input": {...}, "notes": [str, ...], "seconds": float}``; any key may be absent.
        test_emb: ``[M, D]`` test embeddings for the 2-D map, or None.
        test_y: ``[M]`` labels colouring the map, or None (one colour).
        class_names: names of the integer labels, for the legend.
        maps: further 2-D maps after the first (a run on interactions: its items by genre).
        neighbours: ``(sample, [its nearest neighbours])`` rendered as text (a text run's held-out
            texts and their closest texts by the embedding), shown as a table.

    Returns:
        The path written.
    """
    path = Path(path)
    rows = list(metrics_rows or [])
    final = final or {}
    notes = [str(note) for note in final.get("notes") or []]
    figures: list[tuple[str, Callable[[], Any], str]] = [
        ("Training loss", lambda: loss_figure(rows), "Raw loss per logged step and its EMA."),
        ("Label-free monitors", lambda: monitor_figure(rows),
         "RankMe falling towards 1 or the collapse ratio towards 0 signals collapse."),
        ("kNN accuracy over epochs", lambda: accuracy_figure(rows),
         "Online evaluation on the held-out labeled split."),
        ("Method-specific logs", lambda: extra_figure(rows), ""),
        ("Embedding map", lambda: embedding_figure(test_emb, test_y, class_names), ""),
    ]
    figures += [(extra.title, lambda extra=extra: embedding_figure(extra.emb, extra.y, extra.class_names, extra.title,
                                                                   extra.what), "") for extra in maps]
    plots = []
    for heading, make, caption in figures:
        try:
            made = make()
            if made is None:
                continue
            fig, caption = made if isinstance(made, tuple) else (made, caption)
            image = png_base64(fig)
        except Exception as err:  # noqa: BLE001 - a failed plot must not lose the report
            warnings.warn(f"report: plot {heading!r} skipped: {err!r}", stacklevel=2)
            notes.append(f"Plot '{heading}' skipped: {type(err).__name__}: {err}")
            continue
        plots.append(
            f"<h2>{html.escape(heading)}</h2>\n"
            f'<img alt="{html.escape(heading)}" src="data:image/png;base64,{image}">'
            + (f'<p class="caption">{html.escape(caption)}</p>' if caption else "")
        )
    # Notes (skipped files, collapse alarms, failed plots) go first: they qualify what follows.
    sections = [_header(title, config or {}, final)]
    if notes:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
        sections.append(f'<h2>Notes</h2><ul class="notes">{items}</ul>')
    sections += ["<h2>Final evaluation</h2>", _final_table(final), *_ranking_table(final), *plots,
                 *_neighbour_table(neighbours)]
    sections.append(
        "<h2>Configuration</h2><details><summary>Full configuration (YAML)</summary>"
        f"<pre>{html.escape(_config_dump(config or {}))}</pre></details>"
    )
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(sections) + "\n</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write next to the target then rename, so an interrupted write never leaves half a report.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(document, encoding="utf-8")
    os.replace(temporary, path)
    return path

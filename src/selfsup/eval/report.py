"""The run report: one self-contained HTML file with the final scores and the training plots.

Everything is inline (plots as base64 PNG rendered with matplotlib's Agg canvas, CSS in a
``<style>`` block), so the file can be mailed, attached to an issue or opened offline. A plot
whose data is missing is left out; a plot that fails is replaced by a note — a report must
never be what crashes at the end of a long run.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from selfsup.errors import SelfsupError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLUMNS = ("pretrained", "random_init", "raw_input")
COLUMN_TITLES = {"pretrained": "pretrained", "random_init": "random init", "raw_input": "raw input"}
# Known metrics in display order, with how to read them.
METRIC_HELP = {
    "knn_acc": "weighted kNN accuracy (Wu et al. 2018) — higher is better",
    "linear_acc": "linear probe accuracy — higher is better",
    "linear_f1": "linear probe macro-F1 — higher is better",
    "rankme": "effective rank (Garrido et al. 2023) — ~1 collapsed, up to D",
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
ROW_INDEX_KEYS = {"step", "epoch"}
MONITOR_KEYS = {"loss", "lr", "rankme", "emb_std", "collapse_ratio", "knn_acc", "linear_acc",
                "linear_f1"}
TSNE_MAX_POINTS = 3000
MAX_EXTRA_PANELS = 12
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


def _to_number(value: Any) -> float | None:
    """A finite float from a metrics value (float, int, numeric string), else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


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


# --------------------------------------------------------------------------- plots


def _new_figure(**kwargs: Any) -> Figure:
    # A bare Figure renders with the Agg canvas without touching pyplot's global state or
    # backend; imported lazily so that importing selfsup.eval stays cheap.
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    # No metadata: keeps the file small and free of the matplotlib URL.
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _series(rows: Sequence[dict], key: str, x_key: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the rows where ``key`` is a finite number; x falls back to the row index."""
    xs, ys = [], []
    for index, row in enumerate(rows):
        y = _to_number(row.get(key))
        if y is None:
            continue
        x = _to_number(row.get(x_key))
        xs.append(index if x is None else x)
        ys.append(y)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def _smooth(y: np.ndarray, weight: float = 0.9) -> np.ndarray:
    """Debiased exponential moving average (as TensorBoard's smoothing slider)."""
    out, average = np.empty_like(y), 0.0
    for i, value in enumerate(y):
        average = weight * average + (1 - weight) * value
        out[i] = average / (1 - weight ** (i + 1))
    return out


def _loss_plot(rows: Sequence[dict]) -> Figure | None:
    steps, loss = _series(rows, "loss")
    if loss.size == 0:
        return None
    lr_steps, lr = _series(rows, "lr")
    fig = _new_figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]}) if lr.size else [fig.subplots()]
    axes[0].plot(steps, loss, color="tab:blue", alpha=0.3, lw=1, label="loss")
    if loss.size >= 5:
        axes[0].plot(steps, _smooth(loss), color="tab:blue", lw=2, label="smoothed (EMA 0.9)")
    axes[0].set(xlabel="step", ylabel="loss", title="Training loss")
    axes[0].legend(loc="upper right")
    if lr.size:
        axes[1].plot(lr_steps, lr, color="tab:gray")
        axes[1].set(xlabel="step", title="Learning rate")
        axes[1].ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig


def _monitor_plot(rows: Sequence[dict]) -> Figure | None:
    panels = [(key, title) for key, title in (
        ("rankme", "RankMe (effective rank)"),
        ("collapse_ratio", "Collapse ratio (emb_std·√D)"),
        ("emb_std", "Embedding std (normalised)"),
    ) if _series(rows, key)[1].size]
    if not panels:
        return None
    fig = _new_figure(figsize=(3.4 * len(panels) + 1, 3.4))
    for ax, (key, title) in zip(np.atleast_1d(fig.subplots(1, len(panels))), panels):
        steps, values = _series(rows, key)
        ax.plot(steps, values, marker="." if values.size < 50 else None, color="tab:purple")
        if key == "collapse_ratio":
            ax.axhline(1.0, color="tab:green", ls="--", lw=1, label="healthy (1)")
            ax.axhline(0.0, color="tab:red", ls="--", lw=1, label="collapsed (0)")
            ax.legend(loc="best", fontsize=8)
        ax.set(xlabel="step", title=title)
        ax.grid(alpha=0.3)
    return fig


def _per_epoch(rows: Sequence[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Last value of ``key`` per epoch (loggers may write several rows per epoch)."""
    xs, ys = _series(rows, key, x_key="epoch")
    last = dict(zip(xs.tolist(), ys.tolist()))
    epochs = sorted(last)
    return np.asarray(epochs), np.asarray([last[e] for e in epochs])


def _accuracy_plot(rows: Sequence[dict]) -> Figure | None:
    curves = [(key, *_per_epoch(rows, key)) for key in ("knn_acc", "linear_acc")]
    curves = [curve for curve in curves if curve[2].size]
    if not curves:
        return None
    fig = _new_figure(figsize=(6, 3.6))
    ax = fig.subplots()
    for key, epochs, values in curves:
        ax.plot(epochs, values, marker="o", label=key)
    ax.set(xlabel="epoch", ylabel="accuracy", title="Online evaluation")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def _extra_plot(rows: Sequence[dict]) -> Figure | None:
    """Small multiples of the method-specific logs (temperatures, momentum, loss terms …)."""
    keys = sorted({key for row in rows for key, value in row.items()
                   if key not in MONITOR_KEYS | ROW_INDEX_KEYS and _to_number(value) is not None})
    keys = keys[:MAX_EXTRA_PANELS]
    if not keys:
        return None
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = _new_figure(figsize=(3.3 * ncols, 2.6 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax, key in zip(axes, keys):
        steps, values = _series(rows, key)
        ax.plot(steps, values, color="tab:orange", marker="." if values.size < 50 else None)
        ax.set_title(key, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    return fig


def _project_2d(emb: np.ndarray) -> tuple[np.ndarray, str]:
    """2-D coordinates: PCA to ≤50 dims then t-SNE for ≤3000 points, else PCA to 2 dims."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    n, dims = emb.shape
    if dims < 2:
        return np.column_stack([emb[:, 0], np.zeros(n)]), "raw (1 dimension)"
    if n <= TSNE_MAX_POINTS and n >= 10:
        reduced = PCA(n_components=min(50, n, dims), random_state=0).fit_transform(emb)
        tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=0)
        return tsne.fit_transform(reduced), f"t-SNE of PCA-{reduced.shape[1]}"
    return PCA(n_components=2, random_state=0).fit_transform(emb), "PCA (2 components)"


def _embedding_plot(test_emb: Any, test_y: Any, class_names: Sequence[str] | None
                    ) -> tuple[Figure, str] | None:
    if test_emb is None:
        return None
    emb = np.asarray(test_emb.detach().cpu() if hasattr(test_emb, "detach") else test_emb,
                     dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] < 2 or not np.isfinite(emb).all():
        return None
    coords, how = _project_2d(emb)
    fig = _new_figure(figsize=(7, 6))
    ax = fig.subplots()
    size = float(np.clip(3000 / emb.shape[0], 3, 25))
    labels = None if test_y is None else np.asarray(
        test_y.detach().cpu() if hasattr(test_y, "detach") else test_y).reshape(-1)
    if labels is None or labels.shape[0] != emb.shape[0]:
        ax.scatter(coords[:, 0], coords[:, 1], s=size, color="tab:blue", alpha=0.7, linewidths=0)
        caption = f"{emb.shape[0]} test embeddings, {how}, unlabeled."
    else:
        classes = np.unique(labels)
        cmap_name = "tab10" if classes.size <= 10 else "tab20" if classes.size <= 20 else "turbo"
        from matplotlib import colormaps

        cmap = colormaps[cmap_name]
        for i, cls in enumerate(classes):
            mask = labels == cls
            colour = cmap(i if classes.size <= 20 else i / max(1, classes.size - 1))
            name = str(cls)
            if class_names is not None and np.issubdtype(classes.dtype, np.integer) \
                    and 0 <= int(cls) < len(class_names):
                name = str(class_names[int(cls)])
            ax.scatter(coords[mask, 0], coords[mask, 1], s=size, color=colour, alpha=0.75,
                       linewidths=0, label=name)
        if classes.size <= 20:
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=2,
                      frameon=False)
        caption = f"{emb.shape[0]} test embeddings, {how}, coloured by label ({classes.size} classes)."
    ax.set(xticks=[], yticks=[], title="Test embeddings")
    return fig, caption


# --------------------------------------------------------------------------- HTML


def _format(value: Any) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return html.escape(str(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"


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
    items = [(label, _describe(_config_value(config, keys))) for label, keys in HEADER_KEYS.items()]
    data = final.get("data")
    if isinstance(data, dict) and data:
        items.append(("data details", ", ".join(f"{k}={v}" for k, v in data.items())))
    seconds = _to_number(final.get("seconds"))
    if seconds is not None:
        items.append(("run time", f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"))
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in items)
    return f"<h1>{html.escape(title)}</h1>\n<table>{rows}</table>"


def _final_table(final: dict) -> str:
    columns = {c: final.get(c) if isinstance(final.get(c), dict) else {} for c in COLUMNS}
    names = [m for m in METRIC_HELP if any(m in col for col in columns.values())]
    names += sorted({m for col in columns.values() for m in col} - set(names))
    if not names:
        return "<p>No final evaluation was recorded.</p>"
    head = "".join(f"<th>{COLUMN_TITLES[c]}</th>" for c in COLUMNS)
    body = "".join(
        f"<tr><th>{html.escape(str(name))}</th>"
        + "".join(f'<td class="num">{_format(columns[c].get(name))}</td>' for c in COLUMNS)
        + f'<td class="help">{html.escape(METRIC_HELP.get(name, ""))}</td></tr>'
        for name in names
    )
    return f"<table><tr><th>metric</th>{head}<th>reading</th></tr>{body}</table>"


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

    Returns:
        The path written.
    """
    path = Path(path)
    rows = list(metrics_rows or [])
    final = final or {}
    notes = [str(note) for note in final.get("notes") or []]
    figures: list[tuple[str, Callable[[], Any], str]] = [
        ("Training loss", lambda: _loss_plot(rows), "Raw loss per logged step and its EMA."),
        ("Label-free monitors", lambda: _monitor_plot(rows),
         "RankMe falling towards 1 or the collapse ratio towards 0 signals collapse."),
        ("kNN accuracy over epochs", lambda: _accuracy_plot(rows),
         "Online evaluation on the held-out labeled split."),
        ("Method-specific logs", lambda: _extra_plot(rows), ""),
        ("Embedding map", lambda: _embedding_plot(test_emb, test_y, class_names), ""),
    ]
    sections = [_header(title, config or {}, final), "<h2>Final evaluation</h2>",
                _final_table(final)]
    for heading, make, caption in figures:
        try:
            made = make()
        except Exception as err:  # noqa: BLE001 - a failed plot must not lose the report
            warnings.warn(f"report: plot {heading!r} skipped: {err!r}", stacklevel=2)
            notes.append(f"Plot '{heading}' skipped: {type(err).__name__}: {err}")
            continue
        if made is None:
            continue
        fig, caption = made if isinstance(made, tuple) else (made, caption)
        sections.append(
            f"<h2>{html.escape(heading)}</h2>\n"
            f'<img alt="{html.escape(heading)}" src="data:image/png;base64,{_png(fig)}">'
            + (f'<p class="caption">{html.escape(caption)}</p>' if caption else "")
        )
    if notes:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
        sections.append(f'<h2>Notes</h2><ul class="notes">{items}</ul>')
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

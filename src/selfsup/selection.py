"""Label-free model selection over a grid of runs (RankMe, α-ReQ).

``selfsup pretrain --grid train.lr=0.001,0.004 --grid method.temperature=0.2,0.5 --select-by
rankme`` trains one run per combination, scores each pretrained encoder with a score that needs
no labels, keeps the best-scoring run, and — when the data has labels — says how far the kept
run's accuracy is from the best accuracy of the grid, i.e. what choosing without labels cost.

Scores (higher is better), all computed on the held-out embeddings without their labels:

- ``rankme``: effective rank of the embeddings (Garrido et al. 2023, "RankMe: Assessing the
  downstream performance of pretrained self-supervised representations by their rank").
- ``alpha_req``: ``-|α - 1|`` with α the eigenspectrum decay (Agrawal et al. 2022).

The grid folder holds ``runs/<NN>-<setting>/`` (ordinary run folders), ``selection.json`` and
``selection.html``.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from selfsup.errors import SelfsupError, closest

SCORES = {
    "rankme": ("rankme", lambda m: m.get("rankme")),
    "alpha_req": ("alpha_req", lambda m: None if m.get("alpha_req") is None else -abs(m["alpha_req"] - 1.0)),
}
ACCURACY_KEYS = ("knn_acc", "linear_acc")


@dataclass
class GridResult:
    grid_dir: Path
    runs: list[dict[str, Any]]
    selected: dict[str, Any]
    summary: dict[str, Any]


def parse_grid(items: Sequence[str] | dict[str, Sequence[Any]]) -> dict[str, list[Any]]:
    """``["train.lr=0.001,0.004", …]`` (values parsed as YAML) -> ``{"train.lr": [0.001, 0.004]}``."""
    if isinstance(items, dict):
        grid = {str(k): list(v) for k, v in items.items()}
    else:
        grid = {}
        for item in items:
            if "=" not in item:
                raise SelfsupError(f"--grid expects key=v1,v2,…, got {item!r} (e.g. --grid train.lr=0.001,0.004).")
            key, raw = item.split("=", 1)
            values = [_parse_value(v) for v in raw.split(",") if v.strip()]
            if not key.strip() or not values:
                raise SelfsupError(f"--grid {item!r} needs a key and at least one value.")
            grid[key.strip()] = values
    for key, values in grid.items():
        if not values:
            raise SelfsupError(f"--grid {key} has no values.")
    return grid


def _parse_value(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw.strip()


def check_score(select_by: str) -> None:
    if select_by not in SCORES:
        near = closest(select_by, list(SCORES))
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise SelfsupError(f"Unknown --select-by score {select_by!r}.{hint} Choose from: {', '.join(SCORES)}.")


def combinations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def setting_name(index: int, setting: dict[str, Any]) -> str:
    parts = [f"{key.split('.')[-1]}={value}" for key, value in setting.items()]
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", "-".join(parts))[:80]
    return f"{index:02d}-{slug}" if slug else f"{index:02d}"


def run_grid(
    config: Any,
    grid: dict[str, list[Any]] | Sequence[str],
    select_by: str = "rankme",
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
    **flags: Any,
) -> GridResult:
    """Train every combination of ``grid`` on top of ``config``/``flags`` and select one run.

    Args:
        config: a recipe as :func:`selfsup.pretrain` takes it.
        grid: ``{"train.lr": [0.001, 0.004], …}`` or ``--grid`` strings.
        select_by: a key of :data:`SCORES`.
        out: the grid folder (default ``runs/grid-<method>-<date-time>``).
        flags: as for :func:`selfsup.pretrain` (``method``, ``data``, ``epochs``, ``overrides`` …).

    Returns:
        A :class:`GridResult`; ``selection.json`` and ``selection.html`` are written in ``out``.
    """
    from selfsup.api import pretrain
    from selfsup.config import build_config, check_names

    check_score(select_by)
    grid = parse_grid(grid)
    base_overrides = list(flags.pop("overrides", []) or [])
    settings = combinations(grid)
    # Validate every combination before training any: a typo in the last value fails now.
    for setting in settings:
        check_names(build_config(config, **flags, overrides=base_overrides + _assignments(setting)))
    first = build_config(config, **flags, overrides=base_overrides)
    grid_dir = Path(out) if out is not None else Path(
        f"runs/grid-{first.method.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    if (grid_dir / "selection.json").exists() and not overwrite:
        raise SelfsupError(f"{grid_dir} already holds a grid selection. Use --overwrite or another --out.")
    if overwrite and (grid_dir / "runs").is_dir():
        shutil.rmtree(grid_dir / "runs")
    grid_dir.mkdir(parents=True, exist_ok=True)

    runs = []
    for index, setting in enumerate(settings):
        run_dir = grid_dir / "runs" / setting_name(index, setting)
        result = pretrain(
            config,
            out=run_dir,
            overwrite=True,
            progress=progress,
            **flags,
            overrides=base_overrides + _assignments(setting),
        )
        runs.append(_row(run_dir, setting, result.metrics))
    selected, summary = select(runs, select_by)
    summary["grid"] = grid
    (grid_dir / "selection.json").write_text(json.dumps({"summary": summary, "runs": runs}, indent=2, default=str))
    write_selection_report(grid_dir / "selection.html", runs, summary)
    return GridResult(grid_dir, runs, selected, summary)


def _assignments(setting: dict[str, Any]) -> list[str]:
    return [f"{key}={json.dumps(value) if not isinstance(value, str) else value}" for key, value in setting.items()]


def _row(run_dir: Path, setting: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    pretrained = metrics.get("pretrained", {})
    row = {"run": str(run_dir), "setting": setting, "method": metrics.get("method")}
    for key in ("rankme", "alpha_req", *ACCURACY_KEYS):
        if pretrained.get(key) is not None:
            row[key] = pretrained[key]
    for name, (_, score) in SCORES.items():
        row[f"score_{name}"] = score(pretrained)
    return row


def select(runs: list[dict[str, Any]], select_by: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run with the highest ``score_<select_by>`` and a summary of what the choice cost.

    Runs whose score is missing or not finite (a collapsed run can give NaN) are never chosen.
    With accuracies present, the summary holds the selected run's accuracy, the best accuracy of
    the grid, and the gap in points.
    """
    check_score(select_by)
    key = f"score_{select_by}"
    candidates = [r for r in runs if r.get(key) is not None and math.isfinite(r[key])]
    if not candidates:
        raise SelfsupError(f"No run of the grid has a finite {select_by} score; nothing to select.")
    selected = max(candidates, key=lambda r: r[key])
    summary: dict[str, Any] = {"select_by": select_by, "selected_run": selected["run"], "selected_setting": selected["setting"]}
    for accuracy in ACCURACY_KEYS:
        values = [r[accuracy] for r in runs if r.get(accuracy) is not None]
        if values and selected.get(accuracy) is not None:
            best = max(runs, key=lambda r: r.get(accuracy, -math.inf))
            summary[accuracy] = {
                "selected": selected[accuracy],
                "best": best[accuracy],
                "best_run": best["run"],
                "gap_points": round(100 * (best[accuracy] - selected[accuracy]), 2),
            }
    summary["spearman"] = {
        f"{name}~{accuracy}": spearman([r.get(f"score_{name}") for r in runs], [r.get(accuracy) for r in runs])
        for name in SCORES
        for accuracy in ACCURACY_KEYS
    }
    return selected, summary


def spearman(a: Sequence[float | None], b: Sequence[float | None]) -> float | None:
    """Spearman rank correlation over the pairs where both values are finite (None if < 3)."""
    from scipy.stats import spearmanr

    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 3:
        return None
    rho = spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic
    return None if not math.isfinite(rho) else round(float(rho), 3)


def write_selection_report(path: Path, runs: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """A small self-contained HTML page: what was selected, what it cost, every run."""
    select_by = summary["select_by"]
    lines = [
        "<!doctype html><html><head><meta charset='utf-8'><title>selfsup grid selection</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{padding:.2em .6em;"
        "text-align:right}th{background:#eee}tr.sel{background:#e6f4ea}</style></head><body>",
        f"<h1>Grid selection by {html.escape(select_by)}</h1>",
        f"<p>Selected without labels: <b>{html.escape(str(summary['selected_run']))}</b> "
        f"({html.escape(json.dumps(summary['selected_setting']))}).</p>",
    ]
    for accuracy in ACCURACY_KEYS:
        if accuracy in summary:
            s = summary[accuracy]
            lines.append(
                f"<p>{accuracy}: selected {s['selected']:.4f}, best of the grid {s['best']:.4f} "
                f"— the label-free choice is <b>{s['gap_points']:.2f} points</b> below the best run.</p>"
            )
    correlations = ", ".join(f"{k}: {v}" for k, v in summary["spearman"].items() if v is not None)
    if correlations:
        lines.append(f"<p>Spearman rank correlation over the grid — {html.escape(correlations)}.</p>")
    columns = ["run", "rankme", "alpha_req", *ACCURACY_KEYS]
    lines.append("<table><tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>")
    for run in runs:
        css = " class='sel'" if run["run"] == summary["selected_run"] else ""
        cells = [html.escape(Path(run["run"]).name)] + [
            "—" if run.get(c) is None else f"{run[c]:.4f}" for c in columns[1:]
        ]
        lines.append(f"<tr{css}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    lines.append("</table><p>Each run folder has its own report.html.</p></body></html>")
    path.write_text("\n".join(lines))

"""Figures of the run report, each built from the rows of metrics.csv or the test embeddings.

Every builder returns a matplotlib ``Figure`` (or None when its data is absent) rendered on the
Agg canvas without pyplot, so making a report never touches the caller's backend or global
figure state. :func:`png_base64` turns a figure into the inline image of the HTML report.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ROW_INDEX_KEYS = {"step", "epoch"}
MONITOR_KEYS = {"loss", "lr", "rankme", "emb_std", "collapse_ratio", "knn_acc", "linear_acc",
                "linear_f1"}
TSNE_MAX_POINTS = 3000  # t-SNE above this is slow on a CPU; PCA is used instead
MAX_EXTRA_PANELS = 12


def to_number(value: Any) -> float | None:
    """A finite float from a metrics value (float, int, numeric string), else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def new_figure(**kwargs: Any) -> Figure:
    """A matplotlib Figure (keyword arguments as ``Figure``), not registered with pyplot."""
    # A bare Figure renders with the Agg canvas without touching pyplot's global state or
    # backend; imported lazily so that importing selfsup.eval stays cheap.
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def png_base64(fig: Figure) -> str:
    """``fig`` rendered as PNG at 100 dpi, base64-encoded for a ``data:image/png`` URI."""
    buffer = io.BytesIO()
    # No metadata: keeps the file small and free of the matplotlib URL.
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _series(rows: Sequence[dict], key: str, x_key: str = "step") -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the rows where ``key`` is a finite number; x falls back to the row index."""
    xs, ys = [], []
    for index, row in enumerate(rows):
        y = to_number(row.get(key))
        if y is None:
            continue
        x = to_number(row.get(x_key))
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


def loss_figure(rows: Sequence[dict]) -> Figure | None:
    steps, loss = _series(rows, "loss")
    if loss.size == 0:
        return None
    lr_steps, lr = _series(rows, "lr")
    fig = new_figure(figsize=(9, 3.6))
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


def monitor_figure(rows: Sequence[dict]) -> Figure | None:
    panels = [(key, title) for key, title in (
        ("rankme", "RankMe (effective rank)"),
        ("collapse_ratio", "Collapse ratio (emb_std·√D)"),
        ("emb_std", "Embedding std (normalised)"),
    ) if _series(rows, key)[1].size]
    if not panels:
        return None
    fig = new_figure(figsize=(3.4 * len(panels) + 1, 3.4))
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


def accuracy_figure(rows: Sequence[dict]) -> Figure | None:
    curves = [(key, *_per_epoch(rows, key)) for key in ("knn_acc", "linear_acc")]
    curves = [curve for curve in curves if curve[2].size]
    if not curves:
        return None
    fig = new_figure(figsize=(6, 3.6))
    ax = fig.subplots()
    for key, epochs, values in curves:
        ax.plot(epochs, values, marker="o", label=key)
    ax.set(xlabel="epoch", ylabel="accuracy", title="Online evaluation")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def extra_figure(rows: Sequence[dict]) -> Figure | None:
    """Small multiples of the method-specific logs (temperatures, momentum, loss terms …)."""
    keys = sorted({key for row in rows for key, value in row.items()
                   if key not in MONITOR_KEYS | ROW_INDEX_KEYS and to_number(value) is not None})
    keys = keys[:MAX_EXTRA_PANELS]
    if not keys:
        return None
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = new_figure(figsize=(3.3 * ncols, 2.6 * nrows), layout="constrained")
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
    from threadpoolctl import threadpool_limits

    n, dims = emb.shape
    if dims < 2:
        return np.column_stack([emb[:, 0], np.zeros(n)]), "raw (1 dimension)"
    if n <= TSNE_MAX_POINTS and n >= 10:
        reduced = PCA(n_components=min(50, n, dims), random_state=0).fit_transform(emb)
        tsne = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=0)
        # Barnes-Hut t-SNE's OpenMP threads spin-wait: on a busy machine (a DataLoader or a
        # second run on the same cores) 50 points took 40 s with 2 threads, 0.1 s with one.
        with threadpool_limits(limits=1, user_api="openmp"):
            coords = tsne.fit_transform(reduced)
        return coords, f"t-SNE of PCA-{reduced.shape[1]}"
    return PCA(n_components=2, random_state=0).fit_transform(emb), "PCA (2 components)"


@dataclass
class EmbeddingMap:
    """A further 2-D map for the report (the items of a run on interactions, coloured by genre):
    ``emb [M, D]``, ``y [M]`` integer labels (-1: unknown) or None, their ``class_names``, the
    figure's ``title`` and what its points are (``what``, for the caption)."""

    emb: Any
    y: Any
    class_names: Sequence[str] | None
    title: str
    what: str


def embedding_figure(test_emb: Any, test_y: Any, class_names: Sequence[str] | None, title: str = "Test embeddings",
                     what: str = "test embeddings") -> tuple[Figure, str] | None:
    """2-D map of ``test_emb: [M, D]`` coloured by ``test_y: [M]`` (one colour if None), and
    its caption; None without embeddings. ``title`` heads the plot, ``what`` names the points in
    the caption."""
    if test_emb is None:
        return None
    emb = np.asarray(test_emb.detach().cpu() if hasattr(test_emb, "detach") else test_emb,
                     dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] < 2:
        raise ValueError(f"expected at least 2 embeddings [M, D]; got shape {emb.shape}")
    if not np.isfinite(emb).all():
        raise ValueError("the test embeddings contain NaN or infinite values")
    coords, how = _project_2d(emb)
    fig = new_figure(figsize=(7, 6))
    ax = fig.subplots()
    size = float(np.clip(3000 / emb.shape[0], 3, 25))
    labels = None if test_y is None else np.asarray(
        test_y.detach().cpu() if hasattr(test_y, "detach") else test_y).reshape(-1)
    if labels is None or labels.shape[0] != emb.shape[0]:
        ax.scatter(coords[:, 0], coords[:, 1], s=size, color="tab:blue", alpha=0.7, linewidths=0)
        caption = f"{emb.shape[0]} {what}, {how}, unlabeled."
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
        caption = (f"{emb.shape[0]} {what}, {how}, "
                   f"coloured by label ({classes.size} classes).")
    ax.set(xticks=[], yticks=[], title=title)
    return fig, caption

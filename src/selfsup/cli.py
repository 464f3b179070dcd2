"""The ``selfsup`` command: a thin layer over :mod:`selfsup.api`.

Every user mistake prints one line and exits with status 2, without a traceback: a
:class:`~selfsup.errors.SelfsupError`, a file the system refused to read or write (a read-only
folder, a full disk) and a malformed command line (an unknown flag, ``--epochs abc``). Ctrl-C
prints one line and exits with status 130. :func:`run` is that entry point.
"""

from __future__ import annotations

import errno
import functools
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from selfsup.errors import Interrupted, SelfsupError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Self-supervised representation learning on any kind of data.",
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _format_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    return f"warning: {message}\n"


def user_errors(command: Callable) -> Callable:
    """Turn a SelfsupError into one red line on stderr and exit status 2.

    Warnings print as ``warning: message``, without Python's file, line and source echo.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        plain_format, warnings.formatwarning = warnings.formatwarning, _format_warning
        try:
            return command(*args, **kwargs)
        except SelfsupError as err:
            print_error(str(err))
            raise typer.Exit(code=2) from None
        except OSError as err:
            if err.errno not in FILE_SYSTEM_ERRORS:
                raise
            print_error(file_system_message(err))
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt as stop:
            said = stop.message if isinstance(stop, Interrupted) else "Stopped by Ctrl-C; nothing was written."
            err_console.print(f"[bold red]interrupted:[/] {escape(said)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=130) from None
        finally:
            warnings.formatwarning = plain_format

    return wrapper


# What the file system can refuse that the user can fix: permissions, a read-only or full disk,
# a path through a file. Other OSErrors are bugs and keep their traceback.
FILE_SYSTEM_ERRORS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                      errno.EISDIR, errno.EEXIST, errno.ENOENT, errno.ENAMETOOLONG)


def file_system_message(err: OSError) -> str:
    """One line for an OSError: what was refused, on which path, and what to do."""
    path = err.filename if err.filename is not None else "a file"
    reason = err.strerror or str(err)
    hint = {
        errno.EACCES: "check the folder's permissions or choose another --out",
        errno.EPERM: "check the folder's permissions or choose another --out",
        errno.EROFS: "the disk is read-only; choose another --out",
        errno.ENOSPC: "free some disk space or choose another --out",
        errno.EDQUOT: "free some disk space or choose another --out",
    }.get(err.errno, "check the path")
    return f"Could not use {path}: {reason} ({hint})."


def print_error(message: str) -> None:
    """``error: message`` on stderr, printed literally (a message may hold brackets, as in
    pip install 'selfsup[timeseries]', that rich would otherwise read as markup and drop)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


METRICS = (
    ("knn_acc", "kNN acc"),
    ("linear_acc", "linear acc"),
    ("linear_f1", "linear macro-F1"),
    ("svm_acc", "SVM acc"), ("svm_f1", "SVM macro-F1"),
    ("planetoid_acc", "Planetoid-split acc"),
    ("split_acc", "random-splits acc"),
    ("svm_cv_acc", "SVM 10-fold CV acc"),
    ("rankme", "RankMe"),
    ("alpha_req", "α-ReQ"),
    ("collapse_ratio", "std·√D"),
    ("alignment", "alignment"),
    ("uniformity", "uniformity"),
)


#: scores some data define (paired retrieval, per-part probes, verse retrieval), shown when present
DATA_METRICS = re.compile(r"retrieval_.+_(r@1|class_p@1|median_rank)|(part|fused_without)_.+_linear_acc|verse_r@\d+_.+")


def data_metrics(metrics: dict[str, Any], columns: list[str]) -> list[tuple[str, str]]:
    keys = dict.fromkeys(k for c in columns for k in metrics[c] if DATA_METRICS.fullmatch(k))  # as written
    return [(key, key.replace("retrieval_", "").replace("_", " ")) for key in keys]


def print_metrics(metrics: dict[str, Any], title: str) -> None:
    columns = [c for c in ("pretrained", "random_init", "raw_input") if c in metrics]
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for column in columns:
        table.add_column(column.replace("_", "-"), justify="right")
    for key, label in (*METRICS, *data_metrics(metrics, columns)):
        if not any(key in metrics[c] for c in columns):
            continue
        cells = []
        for column in columns:
            value, spread = metrics[column].get(key), metrics[column].get(f"{key}_std")
            cell = "—" if value is None else f"{value:.3f}" if key != "rankme" else f"{value:.1f}"
            cells.append(cell if value is None or spread is None else f"{cell} ± {spread:.3f}")
        table.add_row(label, *cells)
    console.print(table)
    for note in metrics.get("notes", []):
        console.print(f"[yellow]note:[/] {escape(str(note))}", highlight=False)


@app.command()
@user_errors
def pretrain(
    config: Path | None = typer.Option(None, "--config", "-c", help="Recipe YAML (see configs/)."),
    method: str | None = typer.Option(None, help="Objective, e.g. simclr, byol (`selfsup methods`)."),
    data: str | None = typer.Option(None, help="Built-in data set name or a path (`selfsup datasets`)."),
    modality: str | None = typer.Option(None, help="What the data holds: image, … (never guessed)."),
    encoder: str | None = typer.Option(None, help="Encoder name, e.g. small_cnn, resnet18, vit_tiny."),
    views: str | None = typer.Option(None, help="View maker name, e.g. simclr, byol."),
    epochs: int | None = typer.Option(None, help="Training epochs."),
    time_budget: str | None = typer.Option(
        None, "--time-budget", help="Train for this long instead of --epochs: 90s, 5m, 1.5h (evaluation not counted)."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Batch size per process."),
    devices: str | None = typer.Option(None, help="Number of devices (or 'auto')."),
    strategy: str | None = typer.Option(None, help="Lightning strategy, e.g. ddp."),
    seed: int | None = typer.Option(None, help="Random seed."),
    logger: str | None = typer.Option(
        None, help="Also log every step to tensorboard, mlflow or wandb (offline), in the run folder."
    ),
    out: Path | None = typer.Option(None, help="Run folder (default runs/<method>-<data>-<date-time>)."),
    set_: list[str] = typer.Option([], "--set", help="Override any key: --set train.lr=0.01 (repeatable)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run in --out."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    grid: list[str] = typer.Option(
        [], "--grid", help="Train one run per combination: --grid train.lr=0.001,0.004 (repeatable)."
    ),
    select_by: str | None = typer.Option(
        None, "--select-by", help="Label-free score that picks the grid's run: rankme or alpha_req."
    ),
) -> None:
    """Pretrain an encoder, evaluate it next to a random-init one, write the run folder.

    With no arguments: SimCLR on the built-in `digits` data set (a few minutes on 2 cores).
    With --grid: one run per combination under --out/runs/, the run a label-free score
    (--select-by, default rankme) picks, and selection.html saying what that choice cost.
    """
    from selfsup import api

    flags = dict(
        method=method,
        data=data,
        modality=modality,
        encoder=encoder,
        views=views,
        epochs=epochs,
        time_budget=time_budget,
        batch_size=batch_size,
        devices=_devices(devices),
        strategy=strategy,
        seed=seed,
        logger=logger,
        out=out,
    )
    flags = {k: v for k, v in flags.items() if v is not None}
    if set_:
        flags["overrides"] = set_
    if select_by is not None and not grid:
        raise SelfsupError("--select-by picks one run of a grid: add --grid key=v1,v2 (e.g. --grid train.lr=0.001,0.004).")
    if grid:
        if resume:
            raise SelfsupError("--resume continues one run; it cannot be combined with --grid.")
        _pretrain_grid(config, grid, select_by or "rankme", flags, overwrite, progress)
        return
    result = api.pretrain(str(config) if config else None, resume=resume, overwrite=overwrite, progress=progress, **flags)
    if result is None:  # an extra process of a multi-process launch
        return
    print_metrics(result.metrics, f"{result.metrics['method']} on {result.metrics['data']['name']} "
                  f"({result.metrics['seconds']:.0f} s)")
    console.print(f"Run folder: [bold]{escape(str(result.run_dir))}[/]  (report: {escape(str(result.run_dir / 'report.html'))})")


def _pretrain_grid(config: Path | None, grid: list[str], select_by: str, flags: dict, overwrite: bool, progress: bool) -> None:
    from selfsup.selection import run_grid

    out = flags.pop("out", None)
    result = run_grid(str(config) if config else None, grid, select_by, out=out, overwrite=overwrite, progress=progress, **flags)
    table = Table(title=f"grid selection by {select_by}", title_justify="left")
    for column in ("run", "rankme", "α-ReQ", "kNN acc", "linear acc"):
        table.add_column(column, justify="right")
    for run in result.runs:
        mark = " ←" if run["run"] == result.selected["run"] else ""
        cells = [run.get(k) for k in ("rankme", "alpha_req", "knn_acc", "linear_acc")]
        table.add_row(Path(run["run"]).name + mark, *("—" if c is None else f"{c:.3f}" for c in cells))
    console.print(table)
    for key in ("knn_acc", "linear_acc"):
        if key in result.summary:
            s = result.summary[key]
            console.print(f"{key}: selected {s['selected']:.3f}, best {s['best']:.3f} ({s['gap_points']:.2f} points apart)")
    console.print(f"Grid folder: [bold]{escape(str(result.grid_dir))}[/]  (report: {escape(str(result.grid_dir / 'selection.html'))})")


def _devices(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


@app.command()
@user_errors
def evaluate(
    run_dir: Path = typer.Argument(..., help="A run folder written by `selfsup pretrain`."),
    data: str | None = typer.Option(None, help="Evaluate on other data (default: the run's own)."),
    modality: str | None = typer.Option(None, help="Modality of --data."),
) -> None:
    """Evaluate a run's encoder (kNN, linear probe, RankMe, …) next to a random-init one."""
    from selfsup import api

    result = api.evaluate(run_dir, data=data, modality=modality)
    print_metrics(result, f"{run_dir} on {result['data']['name']}")
    console.print(escape(f"Written to {result['written_to']}"))


@app.command()
@user_errors
def embed(
    run_dir: Path = typer.Argument(..., help="A run folder written by `selfsup pretrain`."),
    data: str = typer.Option(..., help="Data to embed: built-in name or path."),
    out: Path | None = typer.Option(None, help="Where to write the embeddings (.npy; with --what also .csv)."),
    modality: str | None = typer.Option(None, help="Modality of --data (default: the run's)."),
    what: str | None = typer.Option(
        None, help="Runs on interactions: the final 'users' or 'items' table, keyed by the original ids."),
) -> None:
    """Write the embeddings of every sample of --data to a .npy file (or, with --what, the user or
    item table of a run on interactions)."""
    from selfsup import api

    if what is not None:
        from selfsup.finished import embed_table

        keys, table = embed_table(run_dir, what, out)
        where = f" to {out}" + (f" (ids in {out}.ids.txt)" if out is not None and out.suffix.lower() == ".npy" else "")
        console.print(escape(f"{table.shape[0]} {what} of dimension {table.shape[1]}{where if out else ''}"))
        if out is None:
            for key, row in list(zip(keys, table))[:10]:
                console.print(escape(f"{key}\t" + " ".join(f"{v:.4f}" for v in row[:8]) + " …"), highlight=False)
        return
    if out is None:
        raise SelfsupError("--out is needed: the .npy file the embeddings are written to.")
    emb = api.embed(run_dir, data=data, out=out, modality=modality)
    console.print(escape(f"Wrote {emb.shape[0]} embeddings of dimension {emb.shape[1]} to {out}"))


@app.command()
@user_errors
def export(
    run_dir: Path = typer.Argument(..., help="A run folder written by `selfsup pretrain`."),
    format: str = typer.Option("onnx", "--format", help="onnx or torchscript."),
    out: Path = typer.Option(..., help="The file to write (.onnx; .pt for TorchScript)."),
) -> None:
    """Write the run's encoder as ONNX or TorchScript, checked to give PyTorch's embeddings (to 1e-4)."""
    from selfsup.export import TOLERANCE
    from selfsup.export import export as write

    difference = write(run_dir, format, out)
    console.print(escape(f"Wrote {out}: its embeddings differ from PyTorch's by at most {difference:.1e} "
                         f"(allowed {TOLERANCE:g})."))


@app.command()
@user_errors
def recommend(
    run_dir: Path = typer.Argument(..., help="A run folder of `selfsup pretrain` on interactions."),
    user: str = typer.Option(..., help="The user's id, as in your data."),
    k: int = typer.Option(10, help="How many items."),
) -> None:
    """Print the top-k items for a user, leaving out the items the user already has."""
    from selfsup.finished import recommend as top_items

    table = Table(title=f"top {k} for user {user}", title_justify="left")
    for column in ("rank", "item", "score"):
        table.add_column(column, justify="right")
    for rank, (item, score) in enumerate(top_items(run_dir, user, k), start=1):
        table.add_row(str(rank), escape(item), f"{score:.4f}")
    console.print(table)


def methods_markdown() -> str:
    """The README's table of methods, generated from the registry (a test keeps them equal)."""
    from selfsup.registry import METHODS

    lines = ["| method | family | data | paper |", "|---|---|---|---|"]
    for name in METHODS.names():
        info = METHODS.info(name)
        if info.family == "test":
            continue
        lines.append(f"| `{name}` | {info.family} | {info.modality or 'any'} | {info.paper} |")
    return "\n".join(lines)


@app.command()
def methods(
    markdown: bool = typer.Option(False, "--markdown", help="Print the README's Markdown table."),
) -> None:
    """List the objectives: name, family, the data they take, paper."""
    from selfsup.registry import METHODS

    if markdown:
        print(methods_markdown())
        return
    table = Table(title="Methods")
    for column in ("name", "family", "data", "paper"):
        table.add_column(column)
    for name in METHODS.names():
        info = METHODS.info(name)
        table.add_row(name, info.family, info.modality or "any", info.paper)
    console.print(table)


@app.command()
def datasets() -> None:
    """List the built-in data sets and the modalities whose files can be read."""
    from selfsup.modality import modality_names, unavailable_modalities
    from selfsup.registry import DATASETS

    table = Table(title="Built-in data sets")
    for column in ("name", "modality", "description"):
        table.add_column(column)
    for name in DATASETS.names():
        info = DATASETS.info(name)
        table.add_row(name, info.modality, info.description)
    console.print(table)
    console.print("Modalities for files/folders (--modality): " + ", ".join(modality_names()))
    for name, why in unavailable_modalities().items():
        console.print(escape(f"Not available: {name} ({why}; pip install 'selfsup[{name}]')"))


# the `units` sub-commands live in their own module (selfsup/cli_units.py), registered here
from selfsup.cli_units import units_app  # needs user_errors and console, defined above

app.add_typer(units_app, name="units")
import selfsup.cli_finetune  # noqa: F401 - registers `selfsup finetune` on app


def run(argv: list[str] | None = None) -> int:
    """Run the ``selfsup`` command line ``argv`` (default: ``sys.argv[1:]``); the exit status.

    A malformed command line (an unknown flag, ``--epochs abc``, a missing value) is one line
    naming the flag and where to read about it, exit status 2; the commands' own failures are
    handled by :func:`user_errors`."""
    from typer import _click

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="selfsup", standalone_mode=False)
    except _click.exceptions.NoArgsIsHelpError:
        return 0  # the help has been printed
    except _click.exceptions.UsageError as err:
        where = f"{err.ctx.command_path} --help" if err.ctx is not None else "selfsup --help"
        print_error(f"{err.format_message().rstrip('.')} (see {where}).")
        return 2
    except typer.Abort:  # end of input at a prompt
        print_error("stopped.")
        return 130
    return result if isinstance(result, int) else 0


def main() -> None:  # pragma: no cover - console entry
    sys.exit(run())

"""``selfsup units fit`` / ``selfsup units encode``: the discrete-units toolkit on the command line
(:mod:`selfsup.units`), registered on :data:`selfsup.cli.app`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from selfsup.cli import console, user_errors

units_app = typer.Typer(no_args_is_help=True, help="Discrete units: fit a k-means codebook on a run's frames, encode data.")


@units_app.command("fit")
@user_errors
def units_fit(
    run_dir: Path = typer.Argument(..., help="A run folder written by `selfsup pretrain`."),
    data: str | None = typer.Option(None, help="Data whose frames are clustered (default: the run's own)."),
    k: int = typer.Option(100, help="Number of units."),
    layer: int | None = typer.Option(None, help="Cluster the output of this encoder layer (1-based) instead of the last."),
    out: Path | None = typer.Option(None, help="Codebook path without suffix (default RUN_DIR/units/k<K>[-layer<L>])."),
    modality: str | None = typer.Option(None, help="Modality of --data (default: the run's)."),
    frame_rate: float | None = typer.Option(None, "--frame-rate", help="Frames per second, to report bits/s."),
    seed: int = typer.Option(0, help="Random seed of k-means."),
    own: bool = typer.Option(False, "--own", help="Measure and save the run's own codebook (totem) instead of fitting k-means."),
) -> None:
    """Fit k-means units on a run's frame / patch / token outputs; print and save their metrics."""
    from selfsup.units import fit_units

    result = fit_units(run_dir, data=data, k=k, layer=layer, out=out, modality=modality, seed=seed,
                       frame_rate=frame_rate, own=own)
    table = Table(title=f"{result.codebook.k} units on {result.codebook.data} ({result.codebook.metrics['frames']} frames)", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.codebook.metrics.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else escape(str(value)))
    console.print(table)
    console.print(escape(f"Codebook: {result.path} (+ {result.path.with_suffix('.json').name})"))


@units_app.command("encode")
@user_errors
def units_encode(
    codebook: Path = typer.Argument(..., help="A codebook from `units fit` (.safetensors/.json), or a run with its own quantiser (totem)."),
    data: str | None = typer.Option(None, help="Data to encode (default: the codebook's)."),
    out: Path = typer.Option(..., help="The .npz file: values + offsets (+ run_lengths with --dedup)."),
    dedup: bool = typer.Option(False, "--dedup", help="Merge repeated units, keeping run lengths."),
    run_dir: Path | None = typer.Option(None, "--run", help="The run whose encoder makes the frames (default: the codebook's)."),
    modality: str | None = typer.Option(None, help="Modality of --data."),
) -> None:
    """Write one unit sequence per sample of --data."""
    from selfsup.units import encode_units

    summary = encode_units(codebook, data=data, out=out, dedup_units=dedup, run_dir=run_dir, modality=modality)
    console.print(escape(f"Wrote {summary['samples']} unit sequences ({summary['units']} units of {summary['k']}, "
                         f"from {summary['frames']} frames) to {out}"))

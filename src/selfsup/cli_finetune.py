"""``selfsup finetune RUN``: fine-tuning with few labels on the command line
(:mod:`selfsup.finetuning`), registered on :data:`selfsup.cli.app`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from selfsup.cli import app, console, user_errors


@app.command()
@user_errors
def finetune(
    run_dir: Path = typer.Argument(..., help="A run folder written by `selfsup pretrain`."),
    data: str | None = typer.Option(None, help="Labelled data to fine-tune on (default: the run's own)."),
    labels: list[float] = typer.Option([0.01, 0.1, 1.0], "--labels", help="Fractions of the training labels (repeat the flag)."),
    seeds: int = typer.Option(3, help="Repeats of each fraction (subset, head and batch order change)."),
    scratch: bool = typer.Option(True, "--scratch/--no-scratch", help="Also train the same encoder from scratch."),
    epochs: int = typer.Option(50, help="At most this many epochs (early stopping on a validation fifth of the labels)."),
    patience: int = typer.Option(10, help="Stop after this many epochs without a better validation accuracy."),
    lr: float = typer.Option(1e-4, help="Learning rate of the encoder (AdamW)."),
    head_lr: float = typer.Option(1e-2, "--head-lr", help="Learning rate of the linear head."),
    batch_size: int = typer.Option(64, "--batch-size", help="Batch size."),
    linear_probe_first: bool = typer.Option(True, "--linear-probe-first/--no-linear-probe-first",
                                            help="Fit the head on the frozen encoder before fine-tuning (LP-FT)."),
    modality: str | None = typer.Option(None, help="Modality of --data (default: the run's)."),
    device: str | None = typer.Option(None, help="cpu, cuda, cuda:1 … (default cpu)."),
    part: str | None = typer.Option(None, help="For a run on paired data: fine-tune this part's encoder alone on it."),
) -> None:
    """Fine-tune a run's encoder with a linear head on 1 %, 10 %, 100 % of the labels, next to from scratch."""
    from selfsup.eval.finetune import FinetuneConfig
    from selfsup.finetuning import finetune as run_finetune

    config = FinetuneConfig(epochs=epochs, patience=patience, batch_size=batch_size, lr=lr, head_lr=head_lr,
                            linear_probe_first=linear_probe_first)
    result = run_finetune(run_dir, data=data, labels=labels, seeds=seeds, scratch=scratch, config=config,
                          modality=modality, device=device, part=part, progress=lambda line: console.print(escape(line)))
    table = Table(title=f"Fine-tuned on {result['data']}{' (part ' + part + ')' if part else ''} ({result['classes']} classes; test accuracy, "
                        f"mean ± std over {result['seeds']} seeds)", title_justify="left")
    for column in ("labels", "start", "accuracy"):
        table.add_column(column, justify="right" if column != "start" else "left")
    for row in result["rows"]:
        table.add_row(f"{row['fraction']:g} ({row['labels']})", row["start"], f"{row['mean']:.4f} ± {row['std']:.4f}")
    console.print(table)
    console.print(escape(f"Written to {result['written_to']}"))

"""A finished run, its data read as the run read it, its encoder and its random-init encoder
(rebuilt from ``encoder.json`` with the run's seed): what the text diagnostics compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from selfsup.assembly import build_encoder
from selfsup.config import load_config
from selfsup.engine.rundir import load_encoder
from selfsup.finished import _read_as_run


def run_with_random_init(run: Path) -> tuple[Any, torch.nn.Module, torch.nn.Module]:
    """``(source, trained encoder, random-init encoder)`` of the run folder ``run``, both in eval mode."""
    config = load_config(run / "config.yaml")
    spec = json.loads((run / "encoder.json").read_text())
    source = _read_as_run(config, spec, config.data.name, None)
    random = build_encoder(spec["name"], source.input_spec, spec["kwargs"], config.train.seed)
    return source, load_encoder(run).eval(), random.eval()


def run_dirs(doc: str) -> list[Path]:
    """The run folders named on the command line of a diagnostic described by ``doc``, with torch on one thread."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    torch.set_num_threads(1)
    return [Path(run) for run in parser.parse_args().runs]

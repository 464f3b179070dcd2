"""A run's encoder as a file other runtimes load: TorchScript or ONNX, checked against PyTorch.

``selfsup export RUN --format onnx --out encoder.onnx`` (or ``--format torchscript --out
encoder.pt``) traces the run's encoder on a batch of the inputs it was trained on (shape from
``encoder.json``), writes the file, loads it back with its own runtime (``torch.jit.load``,
ONNX Runtime) and compares its embeddings of a *different* batch (another batch size: the batch
axis stays dynamic) with PyTorch's: the largest absolute difference must be at most ``1e-4``,
else nothing is left at ``--out``. Encoders whose input is one tensor export: images
``[B, C, H, W]`` and time series ``[B, T, C]``. Graphs, tables, interactions and event sequences
feed their encoders batch dicts, which these formats do not describe; they are refused in one
line. ONNX needs ``pip install selfsup[export]`` (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from selfsup.errors import SelfsupError

FORMATS = {"torchscript": (".pt", ".ts", ".torchscript"), "onnx": (".onnx",)}
#: the largest absolute difference allowed between the exported and the PyTorch embeddings
TOLERANCE = 1e-4


def _example(spec: dict[str, Any], batch: int, seed: int) -> torch.Tensor:
    """A batch of inputs the encoder was trained on (values in [0, 1] for images, N(0, 1) for series)."""
    generator = torch.Generator().manual_seed(seed)
    modality = spec.get("modality")
    if modality == "image" and "input_shape" in spec:
        return torch.rand(batch, *spec["input_shape"], generator=generator)
    if modality == "timeseries" and "length" in spec and "channels" in spec and not spec.get("devices"):
        return torch.randn(batch, int(spec["length"]), int(spec["channels"]), generator=generator)
    raise SelfsupError(
        f"Export takes encoders whose input is one tensor (images, single-device time series); this run's "
        f"{modality or 'unknown'} encoder takes a batch of several parts, which TorchScript / ONNX files do not "
        "describe. Use selfsup.load(RUN) in Python instead."
    )


def export(run_dir: str | Path, format: str, out: str | Path) -> float:
    """Write the run's encoder to ``out`` in ``format`` and return the largest absolute difference of its
    embeddings from PyTorch's (at most :data:`TOLERANCE`, or one SelfsupError and no file)."""
    from selfsup.finished import load

    if format not in FORMATS:
        raise SelfsupError(f"--format is one of {', '.join(FORMATS)}; got {format!r}.")
    out = Path(out)
    if out.suffix.lower() not in FORMATS[format]:
        raise SelfsupError(f"--out {out} should end in {' or '.join(FORMATS[format])} for {format}.")
    run_dir = Path(run_dir)
    described = run_dir / "encoder.json"
    if not described.is_file():
        raise SelfsupError(f"{run_dir} is not a finished selfsup run (encoder.json is missing).")
    spec = json.loads(described.read_text())
    example, check = _example(spec, 2, 0), _example(spec, 5, 1)
    encoder = load(run_dir).eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        with torch.no_grad():
            expected = encoder(check).numpy()
        got = (_torchscript if format == "torchscript" else _onnx)(encoder, example, check, partial)
        difference = float(np.abs(got - expected).max())
        if not difference <= TOLERANCE:
            raise SelfsupError(
                f"The {format} export of {run_dir}'s encoder gives embeddings up to {difference:.2g} away from "
                f"PyTorch's (allowed {TOLERANCE:g}); nothing was written. An operation does not trace faithfully."
            )
        partial.replace(out)
        return difference
    finally:
        partial.unlink(missing_ok=True)


def _torchscript(encoder: torch.nn.Module, example: torch.Tensor, check: torch.Tensor, path: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit's deprecation notice; the check below is what counts
            traced = torch.jit.trace(encoder, example, check_trace=False)
            traced.save(str(path))
            loaded = torch.jit.load(str(path))
    except Exception as error:  # noqa: BLE001 - any tracing failure: name the operation it stopped at
        raise SelfsupError(f"TorchScript could not trace this encoder: {str(error).splitlines()[0]}") from None
    with torch.no_grad():
        return loaded(check).numpy()


def _onnx(encoder: torch.nn.Module, example: torch.Tensor, check: torch.Tensor, path: Path) -> np.ndarray:
    try:
        import onnxruntime
    except ImportError:
        raise SelfsupError("ONNX export needs onnx, onnxscript and onnxruntime: pip install selfsup[export]") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch = torch.export.Dim("batch", min=1)
            torch.onnx.export(encoder, (example,), str(path), input_names=["x"], output_names=["embedding"],
                              dynamic_shapes={"x": {0: batch}}, dynamo=True, verbose=False,
                              external_data=False)  # one file: the weights inside it
    except Exception as error:  # noqa: BLE001 - any exporter failure: name the operation it stopped at
        raise SelfsupError(f"ONNX could not export this encoder: {str(error).splitlines()[0]}") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": check.numpy()})[0]

"""The run directory: refusing to clobber, saving and loading the encoder, checking checkpoints.

```
runs/<name>/
  config.yaml  checkpoints/{last,best}.ckpt  encoder.safetensors  encoder.json
  metrics.csv  metrics.json  report.html
```
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from selfsup.errors import SelfsupError

RUN_FILES = (
    "config.yaml",
    "encoder.safetensors",
    "encoder.json",
    "metrics.csv",
    "metrics.json",
    "report.html",
    "embeddings.npy",
)
CHECKPOINTS = "checkpoints"


def check_run_dir(out: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to write into a folder that holds something else, unless told to.

    - ``resume``: the folder must hold a run with ``checkpoints/last.ckpt``.
    - an existing run: refused unless ``resume`` or ``overwrite``.
    - a non-empty folder that is not a run: refused unless ``overwrite`` (and even then only
      selfsup's own file names are replaced; other files stay).
    """
    if resume and overwrite:
        raise SelfsupError("--resume and --overwrite contradict each other: choose one.")
    if resume:
        if not (out / "config.yaml").is_file():
            raise SelfsupError(f"Cannot resume: {out} holds no run (config.yaml is missing).")
        last = out / CHECKPOINTS / "last.ckpt"
        if not last.is_file():
            raise SelfsupError(f"Cannot resume: {last} does not exist (the run stopped before its first checkpoint). Start again with --overwrite.")
        check_checkpoint(last)
        return
    if out.exists() and not out.is_dir():
        raise SelfsupError(f"Output path {out} is a file, not a folder. Choose another --out.")
    if not out.exists() or overwrite:
        return
    if (out / "config.yaml").is_file():
        raise SelfsupError(
            f"Output folder {out} already holds a run. Use --resume to continue it, "
            "--overwrite to replace it, or choose another --out."
        )
    if any(out.iterdir()):
        raise SelfsupError(
            f"Output folder {out} is not empty and is not a selfsup run. Choose another --out, "
            "or pass --overwrite (only selfsup's own files would be replaced)."
        )


# Folders a tracking logger writes inside a run (replaced with the run's own files).
LOGGER_DIRS = ("tensorboard", "mlruns", "wandb")


def incoming_dir(out: Path) -> Path:
    """The hidden sibling an ``--overwrite`` run is written into until it has finished."""
    return out.with_name(f".{out.name}.incoming")


def holds_run_files(out: Path) -> bool:
    """Whether ``out`` holds any file or folder selfsup writes (what ``--overwrite`` replaces)."""
    return out.is_dir() and any((out / name).exists() for name in (*RUN_FILES, CHECKPOINTS, *LOGGER_DIRS))


def replace_run(incoming: Path, out: Path) -> None:
    """Move the finished run in ``incoming`` into ``out``, replacing only selfsup's own files there.

    The old run's files are first moved aside into a hidden sibling (``.<name>.previous``),
    then the new ones moved in, then the old ones deleted: at every moment one complete run
    exists on disk (if this is interrupted, the previous one is still in ``.<name>.previous``).
    Files of the user's that share the folder are left as they are."""
    out.mkdir(parents=True, exist_ok=True)
    previous = out.with_name(f".{out.name}.previous")
    shutil.rmtree(previous, ignore_errors=True)
    previous.mkdir()
    for item in incoming.iterdir():
        if (out / item.name).exists():
            (out / item.name).rename(previous / item.name)
    for name in (*RUN_FILES, CHECKPOINTS, *LOGGER_DIRS):  # old files the new run did not write
        if (out / name).exists():
            (out / name).rename(previous / name)
    for item in incoming.iterdir():
        item.rename(out / item.name)
    incoming.rmdir()
    shutil.rmtree(previous, ignore_errors=True)


def remove_unstarted_run(out: Path, created: bool) -> None:
    """After a run failed before its first checkpoint: remove the files it wrote (and ``out``
    itself when the run created it and nothing else is there), so the same ``--out`` works again.
    A run with ``checkpoints/last.ckpt`` is kept: ``--resume`` continues it."""
    if (out / CHECKPOINTS / "last.ckpt").exists() or not out.is_dir():
        return
    clear_run_files(out)
    for name in LOGGER_DIRS:
        shutil.rmtree(out / name, ignore_errors=True)
    if created and not any(out.iterdir()):
        out.rmdir()


def clear_run_files(out: Path) -> None:
    """Remove a previous run's files (only the names selfsup writes)."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)


def check_checkpoint(path: Path) -> dict[str, Any]:
    """Load a Lightning checkpoint safely (``weights_only=True``) or explain why it is not one."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means "not a usable checkpoint"
        raise SelfsupError(
            f"{path} is not a readable selfsup checkpoint ({type(err).__name__}: {(str(err).splitlines() or ['empty'])[0][:200]}). "
            "Resume from another run, or start again with --overwrite."
        ) from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise SelfsupError(f"{path} is not a selfsup checkpoint (it has no 'state_dict'). Start again with --overwrite.")
    return ckpt


def check_checkpoint_fits(path: Path, module: nn.Module) -> None:
    """Refuse a checkpoint whose weights are not those of ``module`` (another method's, another
    encoder's): Lightning would stop with a long size-mismatch traceback."""
    saved = check_checkpoint(path)["state_dict"]
    expected = module.state_dict()
    differ = sorted(k for k in set(saved) | set(expected)
                    if k not in saved or k not in expected or tuple(saved[k].shape) != tuple(expected[k].shape))
    if differ:
        first = differ[0]
        shapes = (f"{list(saved[first].shape)} saved, {list(expected[first].shape)} expected"
                  if first in saved and first in expected else ("not in the checkpoint" if first not in saved else "not in this model"))
        raise SelfsupError(
            f"{path} holds the weights of another model: {len(differ)} of {len(expected)} tensors differ "
            f"(e.g. {first}: {shapes}). It was not written by the configuration in "
            f"{path.parent.parent / 'config.yaml'}; start again with --overwrite or another --out."
        )


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def write_json(path: Path, data: Any) -> None:
    _atomic_write_text(path, json.dumps(data, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _default_file_mode() -> int:
    """The mode a file written with ``open()`` gets: 0666 less the process's umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_encoder(out: Path, encoder: nn.Module, spec: dict[str, Any]) -> None:
    """Write ``encoder.safetensors`` (weights, no pickle) and ``encoder.json`` (how to rebuild it:
    registry name, input shape, keyword arguments, output_dim)."""
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    tmp = out / "encoder.safetensors.tmp"
    save_file(state, str(tmp))
    tmp.chmod(_default_file_mode())  # safetensors creates its files 0600; a run is shared like the rest
    tmp.replace(out / "encoder.safetensors")
    write_json(out / "encoder.json", {**spec, "output_dim": int(encoder.output_dim)})


def _input_spec(description: dict[str, Any]) -> Any:
    """The input spec an encoder was built for: rebuilt by its modality from encoder.json (the
    modality is looked up by name, never imported here), or the plain shape."""
    from selfsup.modality import get_modality

    modality = description.get("modality")
    if modality is not None:
        return get_modality(modality).input_spec_from_dict(description)
    return tuple(description["input_shape"])


def load_encoder(run_dir: str | Path) -> nn.Module:
    """Rebuild the encoder of a run from ``encoder.json`` and ``encoder.safetensors`` alone."""
    from selfsup.registry import ENCODERS

    run_dir = Path(run_dir)
    spec_path, weights_path = run_dir / "encoder.json", run_dir / "encoder.safetensors"
    for path in (spec_path, weights_path):
        if not path.is_file():
            raise SelfsupError(f"{path} does not exist: {run_dir} is not a finished selfsup run.")
    try:
        spec = json.loads(spec_path.read_text())
        name, kwargs = spec["name"], dict(spec.get("kwargs", {}))
        input_spec = _input_spec(spec)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise SelfsupError(f"{spec_path} is not a valid encoder description ({err}).") from None
    if name in ENCODERS:  # written before an option's default changed: rebuild with the old default
        changed = ENCODERS.info(name).changed_defaults
        kwargs = {**{key: before for key, (before, _) in changed.items()}, **kwargs}
    encoder = ENCODERS.build(name, input_spec, **kwargs)
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as err:
        raise SelfsupError(f"{weights_path} is not a readable safetensors file ({err}).") from None
    try:
        encoder.load_state_dict(state)
    except RuntimeError as err:
        raise SelfsupError(f"{weights_path} does not match the encoder described in {spec_path}: {str(err)[:300]}") from None
    return encoder.eval()

"""The Python entry points: ``pretrain``, ``evaluate``, ``embed``, ``load``.

The CLI is a thin layer over these; everything a command can do, a function call can do::

    import selfsup
    run = selfsup.pretrain(method="byol", data="digits", epochs=30, out="runs/byol")
    print(run.metrics["pretrained"]["knn_acc"])
    encoder = selfsup.load("runs/byol")
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from selfsup.config import Component, Config, build_config, check_names, config_diff, load_config
from selfsup.data import DataBundle, load_data
from selfsup.engine.rundir import (
    check_run_dir,
    clear_run_files,
    load_encoder,
    save_encoder,
    write_json,
)
from selfsup.errors import SelfsupError
from selfsup.modality import ModalitySpec
from selfsup.registry import MethodInfo

# Config keys that may differ when a run is resumed: they change where it runs, not what it learns.
_RESUME_FREE_KEYS = ("train.devices", "train.accelerator", "train.num_workers", "train.strategy", "out")


@dataclass
class RunResult:
    """What :func:`pretrain` returns: the run folder, its final evaluation, the trained encoder."""

    run_dir: Path
    metrics: dict[str, Any]
    encoder: nn.Module


# ----------------------------------------------------------------------------- building


def _is_launched_child() -> bool:
    """True in the extra processes Lightning's DDP launcher starts (they must not write)."""
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def _components(config: Config, bundle: DataBundle) -> tuple[str, dict, str, dict]:
    from selfsup.modality import get_modality
    from selfsup.registry import DATASETS, METHODS

    default_encoder, default_views = default_components(
        METHODS.info(config.method.name), get_modality(config.data.modality)
    )
    encoder_name = config.encoder.name if config.encoder else default_encoder
    encoder_kwargs = config.encoder.kwargs if config.encoder else {}
    views_name = config.views.name if config.views else default_views
    views_kwargs = config.views.kwargs if config.views else {}
    # A built-in data set may say which view settings suit it (digits are not flip-invariant);
    # the recipe's own view keywords win.
    if config.data.name in DATASETS:
        from selfsup.registry import VIEWS, accepted_kwargs

        suggested = DATASETS.info(config.data.name).view_defaults
        accepted = accepted_kwargs(VIEWS.get(views_name))
        views_kwargs = {
            **{k: v for k, v in suggested.items() if accepted is None or k in accepted},
            **views_kwargs,
        }
    return encoder_name, encoder_kwargs, views_name, views_kwargs


def default_components(method: MethodInfo, modality: ModalitySpec) -> tuple[str, str]:
    """The encoder and view maker a method gets on a modality when the recipe names none.

    A modality's own method (TS2Vec on series) takes the paper's recipe it declares. A generic
    method gets, for the first capability it ``needs`` (MAE: ``tokens``), the encoder the
    modality names for it, and for its ``view_style`` (MoCo v3: ``asymmetric``) the modality's
    view maker of that style, or a modality-free one of that name (``none``); otherwise the
    modality's defaults.
    """
    from selfsup.registry import VIEWS

    if method.modality is not None and method.modality == modality.name:
        return (method.default_encoder or modality.default_encoder,
                method.default_views or modality.default_views)
    encoder = next((modality.encoders_for[n] for n in method.needs if n in modality.encoders_for),
                   modality.default_encoder)
    views = modality.default_views
    if method.view_style in modality.views_for:
        views = modality.views_for[method.view_style]
    elif method.view_style is not None and method.view_style in VIEWS and VIEWS.info(method.view_style).modality == "any":
        views = method.view_style
    return encoder, views


def build_encoder(name: str, input_shape: tuple[int, ...], kwargs: dict[str, Any], seed: int) -> nn.Module:
    """Build an encoder by name with a fixed initialisation (the random-init baseline of a run
    is exactly the pretrained encoder's starting point)."""
    from selfsup.registry import ENCODERS

    torch.manual_seed(seed)
    return ENCODERS.build(name, tuple(input_shape), **kwargs)


def _load_bundle(config: Config) -> DataBundle:
    return load_data(
        config.data.name,
        modality=config.data.modality,
        seed=config.train.seed,
        test_fraction=config.data.test_fraction,
        **config.data.options,
    )


def _sample_phrase(bundle: DataBundle, data_name: str) -> Callable[[int], str]:
    """Training sample ``i`` -> how the user finds it in their data (its row before splitting)."""
    if bundle.source_index is None:
        return lambda i: f"training sample {i} of {data_name}"
    rows = bundle.source_index
    return lambda i: f"row {int(rows[i])} of {data_name} (training sample {i})"


# ----------------------------------------------------------------------------- pretrain


def pretrain(
    config: Config | dict | str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
    **flags: Any,
) -> RunResult | None:
    """Pretrain an encoder, evaluate it next to a random-init one and write the run folder.

    ``config`` is a recipe (a :class:`Config`, a dict or a YAML path); ``flags`` are the CLI's
    flags as keywords (``method``, ``encoder``, ``views``, ``data``, ``modality``, ``epochs``,
    ``batch_size``, ``devices``, ``strategy``, ``seed``, ``out``, ``overrides``). With
    ``resume=True`` the run in ``out`` continues from ``checkpoints/last.ckpt`` with its saved
    configuration. Returns None in the extra processes of a multi-process launch.
    """
    import lightning as L

    from selfsup.engine.trainer import fit
    from selfsup.registry import METHODS, VIEWS

    config = build_config(config, **flags)
    if config.out is None and _is_launched_child() and os.environ.get("SELFSUP_RUN_DIR"):
        config = config.model_copy(update={"out": os.environ["SELFSUP_RUN_DIR"]})
    if config.out is None:
        if resume:
            raise SelfsupError("--resume needs --out: the run folder to continue.")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        config = config.model_copy(update={"out": f"runs/{config.method.name}-{_slug(config.data.name)}-{stamp}"})
    out = Path(config.out)
    child = _is_launched_child()
    # DDP processes that Lightning launches inherit this, and so write into the same run.
    os.environ["SELFSUP_RUN_DIR"] = str(out)
    if resume:
        check_run_dir(out, resume=True, overwrite=overwrite)
        saved = load_config(out / "config.yaml")
        given = config.to_dict() if (flags or config is not None) else saved.to_dict()
        # A section left to its default (None) in the request was resolved in the saved run.
        given = {k: v for k, v in given.items() if v is not None}
        changed = [k for k in config_diff(saved.to_dict(), given) if k.split(".")[0] in given and not k.startswith(_RESUME_FREE_KEYS)]
        if flags.keys() - {"out", "devices", "strategy"} and changed:
            raise SelfsupError(
                f"--resume continues the saved configuration of {out}; these keys differ from it: "
                f"{', '.join(changed)}. Drop them, or start a new run with another --out."
            )
        config = saved.model_copy(update={"out": str(out)})
    elif not child:
        check_run_dir(out, resume=False, overwrite=overwrite)
    check_names(config)

    train = config.train
    L.seed_everything(train.seed, workers=True, verbose=False)
    bundle = _load_bundle(config)
    for note in bundle.notes:
        warnings.warn(note, stacklevel=2)
    n_train = int(bundle.x_train.shape[0])
    if train.batch_size > n_train:
        if "batch_size" in train.model_fields_set:
            raise SelfsupError(
                f"Batch size {train.batch_size} is larger than the {n_train} training samples of "
                f"{config.data.name!r}. Use --batch-size {min(256, n_train)} or smaller."
            )
        # The default batch (256) does not fit a small data set (a UCR set of 50 series): take
        # the largest power of two that leaves at least two steps per epoch, and say so.
        size = max(2, 2 ** int(math.log2(max(2, n_train // 2))))
        warnings.warn(
            f"The default batch size {train.batch_size} is larger than the {n_train} training "
            f"samples of {config.data.name!r}; using {size} (choose with --batch-size).",
            stacklevel=2,
        )
        train = train.model_copy(update={"batch_size": size})
        config = config.model_copy(update={"train": train})

    encoder_name, encoder_kwargs, views_name, views_kwargs = _components(config, bundle)
    encoder = build_encoder(encoder_name, bundle.input_shape, encoder_kwargs, train.seed)
    views = VIEWS.build(views_name, bundle.input_shape, **views_kwargs)
    method = METHODS.build(config.method.name, encoder, views, **config.method.kwargs)
    if hasattr(views, "check_data"):  # ViewMaker's hook; a plain nn.Module view maker has none
        views.check_data(bundle.x_train, _sample_phrase(bundle, config.data.name))
    if method.uses_labels and bundle.y_train is None:
        raise SelfsupError(
            f"Method {config.method.name!r} is supervised (it trains on the labels) and "
            f"{config.data.name!r} has none. Pick a self-supervised method, or labeled data."
        )
    method.prepare(n_train)
    # config.yaml records what was built, defaults resolved, so it is enough to rerun.
    config = config.model_copy(
        update={
            "encoder": Component(name=encoder_name, **encoder_kwargs),
            "views": Component(name=views_name, **views_kwargs),
        }
    )

    if not resume and not child:
        out.mkdir(parents=True, exist_ok=True)
        if overwrite:
            clear_run_files(out)
        (out / "config.yaml").write_text(config.to_yaml())
    started = time.time()
    trainer, monitor = fit(method, bundle, config, out, resume=resume, callbacks=callbacks, progress=progress)
    if not trainer.is_global_zero:
        return None
    train_seconds = time.time() - started

    from selfsup.engine.evaluation import evaluate_run_encoder
    from selfsup.eval.report import read_metrics_csv, write_report

    encoder_spec = {
        "name": encoder_name,
        "input_shape": list(bundle.input_shape),
        "kwargs": encoder_kwargs,
        "modality": config.data.modality,
    }
    method.encoder.cpu()
    save_encoder(out, method.encoder, encoder_spec)
    final, held_out_emb = evaluate_run_encoder(
        method.encoder,
        lambda: build_encoder(encoder_name, bundle.input_shape, encoder_kwargs, train.seed),
        bundle,
        views,
        config.eval,
        seed=train.seed,
    )
    final["seconds"] = round(time.time() - started, 1)
    if not resume:  # training only, without the final evaluation (a resumed run timed only part)
        final["seconds_per_epoch"] = round(train_seconds / config.train.epochs, 3)
    final["method"] = config.method.name
    final["encoder"] = encoder_name
    if monitor is not None and monitor.alarms:
        final["notes"] = final.get("notes", []) + monitor.alarms
    write_json(out / "metrics.json", final)
    write_report(
        out / "report.html",
        title=f"{config.method.name} · {encoder_name} · {config.data.name}",
        config=config.to_dict(),
        metrics_rows=read_metrics_csv(out / "metrics.csv"),
        final=final,
        test_emb=held_out_emb,
        test_y=bundle.held_out[1],
        class_names=bundle.class_names,
    )
    return RunResult(run_dir=out, metrics=final, encoder=method.encoder.eval())


# ----------------------------------------------------------------------------- after training


def load(run_dir: str | Path) -> nn.Module:
    """The pretrained encoder of a run, rebuilt from ``encoder.json`` + ``encoder.safetensors``."""
    return load_encoder(run_dir)


def _open_run(run_dir: Path) -> tuple[Config, nn.Module, dict[str, Any]]:
    """A finished run's configuration, encoder and encoder description."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise SelfsupError(f"{run_dir} is not a selfsup run folder (config.yaml is missing).")
    config = load_config(path)
    encoder = load_encoder(run_dir)
    return config, encoder, _read_json(run_dir / "encoder.json")


def _check_input_shape(bundle: DataBundle, spec: dict[str, Any], run_dir: Path) -> None:
    if tuple(bundle.input_shape) != tuple(spec["input_shape"]):
        raise SelfsupError(
            f"Data {bundle.name!r} has samples of shape {list(bundle.input_shape)}, but the encoder of "
            f"{run_dir} was trained on {spec['input_shape']}."
        )


def evaluate(run_dir: str | Path, data: str | None = None, modality: str | None = None) -> dict[str, Any]:
    """Evaluate a finished run's encoder (and a random-init one) on its own data or on ``data``.

    On the run's own data this rewrites ``metrics.json``; on other data it writes
    ``eval_<name>.json`` beside it and leaves the run's files as they are.
    """
    from selfsup.engine.evaluation import evaluate_run_encoder
    from selfsup.registry import VIEWS

    run_dir = Path(run_dir)
    config, encoder, spec = _open_run(run_dir)
    own = data is None or data == config.data.name
    if not own:
        config = config.model_copy(
            update={"data": config.data.model_copy(update={"name": data, **({"modality": modality} if modality else {})})}
        )
    bundle = _load_bundle(config)
    _check_input_shape(bundle, spec, run_dir)
    _, _, views_name, views_kwargs = _components(config, bundle)
    views = VIEWS.build(views_name, bundle.input_shape, **views_kwargs)
    result, _ = evaluate_run_encoder(
        encoder,
        lambda: build_encoder(spec["name"], bundle.input_shape, spec.get("kwargs", {}), config.train.seed),
        bundle,
        views,
        config.eval,
        seed=config.train.seed,
    )
    target = run_dir / ("metrics.json" if own else f"eval_{_slug(config.data.name)}.json")
    if own and target.is_file():
        previous = _read_json(target)
        result = {**previous, **result}
    write_json(target, result)
    result["written_to"] = str(target)
    return result


def embed(
    run_dir: str | Path, data: str, out: str | Path | None = None, modality: str | None = None, batch_size: int = 512
) -> np.ndarray:
    """Embeddings ``[N, D]`` of every sample of ``data``, optionally saved to ``out`` as ``.npy``.

    Rows follow the source: a file's own order (a random split made while reading is undone);
    the train split then the test split for explicit splits and built-in data sets."""
    from selfsup.eval import embed_tensor

    run_dir = Path(run_dir)
    config, encoder, spec = _open_run(run_dir)
    bundle = load_data(data, modality=modality or spec.get("modality", config.data.modality), seed=config.train.seed,
                       test_fraction=config.data.test_fraction, **config.data.options)
    _check_input_shape(bundle, spec, run_dir)
    parts = [bundle.x_train] + ([bundle.x_test] if bundle.x_test is not None else [])
    emb = torch.cat([embed_tensor(encoder, x, batch_size) for x in parts])
    if bundle.source_index is not None:
        emb = emb[torch.argsort(bundle.source_index)]
    emb = emb.numpy()
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.save(out, emb)
    return emb


def _read_json(path: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SelfsupError(f"{path} could not be read as JSON ({err}).") from None


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in Path(name).name)[:60] or "data"

"""The Python entry points: ``pretrain``, ``evaluate``, ``embed``, ``load``.

The CLI is a thin layer over these; everything a command can do, a function call can do::

    import selfsup
    run = selfsup.pretrain(method="byol", data="digits", epochs=30, out="runs/byol")
    print(run.metrics["pretrained"]["knn_acc"])
    encoder = selfsup.load("runs/byol")
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from selfsup.config import (
    Component,
    Config,
    apply_override,
    check_names,
    load_config,
    make_config,
    read_yaml,
    set_component,
)
from selfsup.data import ArrayDataset, DataBundle, collate_batch, load_data
from selfsup.engine.rundir import (
    check_run_dir,
    clear_run_files,
    load_encoder,
    save_encoder,
    write_json,
)
from selfsup.errors import SelfsupError

# Config keys that may differ when a run is resumed: they change where it runs, not what it learns.
_RESUME_FREE_KEYS = ("train.devices", "train.accelerator", "train.num_workers", "train.strategy", "out")


@dataclass
class RunResult:
    """What :func:`pretrain` returns: the run folder, its final evaluation, the trained encoder."""

    run_dir: Path
    metrics: dict[str, Any]
    encoder: nn.Module


# ----------------------------------------------------------------------------- configuration


def build_config(
    config: Config | dict | str | Path | None = None,
    *,
    method: str | None = None,
    encoder: str | None = None,
    views: str | None = None,
    data: str | None = None,
    modality: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    devices: int | str | None = None,
    strategy: str | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    overrides: Sequence[str] | dict[str, Any] = (),
) -> Config:
    """Merge a recipe (object, dict or YAML path), flag-style arguments and ``key=value``
    overrides, in that order, into one validated :class:`Config`."""
    if isinstance(config, Config):
        raw = config.to_dict()
        source = "the configuration"
    elif isinstance(config, (str, Path)):
        raw, source = read_yaml(config), str(config)
    else:
        raw, source = dict(config or {}), "the configuration"
    for section, name in (("method", method), ("encoder", encoder), ("views", views)):
        set_component(raw, section, name)
    flags = {
        "data.name": data,
        "data.modality": modality,
        "train.epochs": epochs,
        "train.batch_size": batch_size,
        "train.devices": devices,
        "train.strategy": strategy,
        "train.seed": seed,
        "out": str(out) if out is not None else None,
    }
    items = list(overrides.items()) if isinstance(overrides, dict) else []
    for key, value in flags.items():
        if value is not None:
            _assign(raw, key, value)
    for key, value in items:
        _assign(raw, key, value)
    if not isinstance(overrides, dict):
        for assignment in overrides:
            apply_override(raw, assignment)
    return make_config(raw, source=source)


def _assign(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(a) | set(b)):
        path = f"{prefix}{key}"
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            keys.extend(_diff(va, vb, path + "."))
        elif va != vb:
            keys.append(path)
    return keys


# ----------------------------------------------------------------------------- building


def _is_launched_child() -> bool:
    """True in the extra processes Lightning's DDP launcher starts (they must not write)."""
    return os.environ.get("LOCAL_RANK", "0") != "0" or os.environ.get("NODE_RANK", "0") != "0"


def _components(config: Config, bundle: DataBundle) -> tuple[str, dict, str, dict]:
    from selfsup.registry import DATASETS, MODALITIES

    modality = MODALITIES.entry(config.data.modality).meta
    encoder_name = config.encoder.name if config.encoder else modality["default_encoder"]
    encoder_kwargs = config.encoder.kwargs if config.encoder else {}
    views_name = config.views.name if config.views else modality["default_views"]
    views_kwargs = config.views.kwargs if config.views else {}
    # A built-in data set may say which view settings suit it (digits are not flip-invariant);
    # the recipe's own view keywords win.
    if config.data.name in DATASETS:
        from selfsup.registry import VIEWS, accepted_kwargs

        suggested = DATASETS.entry(config.data.name).meta.get("view_defaults", {})
        accepted = accepted_kwargs(VIEWS.get(views_name))
        views_kwargs = {
            **{k: v for k, v in suggested.items() if accepted is None or k in accepted},
            **views_kwargs,
        }
    return encoder_name, encoder_kwargs, views_name, views_kwargs


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
    from lightning.pytorch.callbacks import ModelCheckpoint

    from selfsup.engine.callbacks import MetricsWriter, NonFiniteLossGuard, OnlineMonitor
    from selfsup.engine.module import SelfSupervisedModule
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
        changed = [k for k in _diff(saved.to_dict(), given) if k.split(".")[0] in given and not k.startswith(_RESUME_FREE_KEYS)]
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
        raise SelfsupError(
            f"Batch size {train.batch_size} is larger than the {n_train} training samples of "
            f"{config.data.name!r}. Use --batch-size {min(256, n_train)} or smaller."
        )

    encoder_name, encoder_kwargs, views_name, views_kwargs = _components(config, bundle)
    encoder = build_encoder(encoder_name, bundle.input_shape, encoder_kwargs, train.seed)
    views = VIEWS.build(views_name, bundle.input_shape, **views_kwargs)
    method = METHODS.build(config.method.name, encoder, views, **config.method.kwargs)
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
    checkpoint_dir = out / "checkpoints"

    writer = MetricsWriter(out / "metrics.csv")
    run_callbacks: list[Any] = [NonFiniteLossGuard(checkpoint_dir)]
    monitor_metric = None
    monitor: OnlineMonitor | None = None
    if config.eval.every_n_epochs > 0:
        held_out_x = bundle.x_test if bundle.x_test is not None else bundle.x_train
        held_out_y = bundle.y_test if bundle.x_test is not None else bundle.y_train
        monitor = OnlineMonitor(
            writer,
            bundle.x_train,
            bundle.y_train,
            held_out_x,
            held_out_y,
            every_n_epochs=config.eval.every_n_epochs,
            k=config.eval.k,
            max_samples=config.eval.max_monitor_samples,
            collapse_ratio_alarm=config.eval.collapse_ratio_alarm,
        )
        run_callbacks.append(monitor)
        monitor_metric = "knn_acc" if bundle.labeled else "rankme"
    run_callbacks.append(writer)
    run_callbacks.append(
        ModelCheckpoint(
            dirpath=checkpoint_dir,
            filename="best",
            monitor=monitor_metric,
            mode="max",
            save_last=True,
            save_top_k=1 if monitor_metric else 0,
            enable_version_counter=False,
        )
    )
    run_callbacks.extend(callbacks)

    precision = train.precision
    if precision == "auto":
        precision = "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else (
            "16-mixed" if torch.cuda.is_available() else "32-true"
        )
    trainer = L.Trainer(
        max_epochs=train.epochs,
        accelerator=train.accelerator,
        devices=train.devices,
        strategy=train.strategy,
        precision=precision,
        gradient_clip_val=train.gradient_clip,
        callbacks=run_callbacks,
        logger=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(out),
        sync_batchnorm=_wants_sync_bn(train),
        deterministic=False,
        log_every_n_steps=train.log_every_n_steps,
    )
    world = trainer.world_size
    per_rank = -(-n_train // world)
    if per_rank < train.batch_size:
        raise SelfsupError(
            f"With {world} processes each sees {per_rank} samples, fewer than the batch size {train.batch_size}. "
            "Lower --batch-size (it is per process)."
        )
    steps_per_epoch = per_rank // train.batch_size
    module = SelfSupervisedModule(
        method,
        optimizer=train.optimizer,
        lr=train.lr * train.batch_size * world / 256,
        weight_decay=train.weight_decay,
        momentum=train.momentum,
        warmup_steps=int(round(train.warmup_epochs * steps_per_epoch)),
        total_steps=train.epochs * steps_per_epoch,
        seed=train.seed,
        log_every_n_steps=train.log_every_n_steps,
    )
    loader = _train_loader(bundle, train.batch_size, train.seed, train.num_workers)
    started = time.time()
    _quiet_lightning()
    trainer.fit(
        module,
        train_dataloaders=loader,
        ckpt_path=str(checkpoint_dir / "last.ckpt") if resume else None,
        weights_only=True,
    )
    if not trainer.is_global_zero:
        return None

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
    final = evaluate_run_encoder(
        method.encoder,
        lambda: build_encoder(encoder_name, bundle.input_shape, encoder_kwargs, train.seed),
        bundle,
        views,
        config.eval,
        seed=train.seed,
    )
    final["seconds"] = round(time.time() - started, 1)
    final["method"] = config.method.name
    final["encoder"] = encoder_name
    if monitor is not None and monitor.alarms:
        final["notes"] = final.get("notes", []) + monitor.alarms
    write_json(out / "metrics.json", final)
    test_x = bundle.x_test if bundle.x_test is not None else bundle.x_train
    test_y = bundle.y_test if bundle.x_test is not None else bundle.y_train
    from selfsup.eval import embed_tensor

    write_report(
        out / "report.html",
        title=f"{config.method.name} · {encoder_name} · {config.data.name}",
        config=config.to_dict(),
        metrics_rows=read_metrics_csv(out / "metrics.csv"),
        final=final,
        test_emb=embed_tensor(method.encoder, test_x),
        test_y=test_y,
        class_names=bundle.class_names,
    )
    return RunResult(run_dir=out, metrics=final, encoder=method.encoder.eval())


def _wants_sync_bn(train: Any) -> bool:
    # Batch statistics are part of several objectives' signal: sync them across GPU processes
    # (torch's SyncBatchNorm has no CPU implementation; CPU processes keep per-process stats).
    on_gpu = train.accelerator in ("gpu", "cuda") or (train.accelerator == "auto" and torch.cuda.is_available())
    many = (isinstance(train.devices, int) and train.devices > 1) or "ddp" in str(train.strategy)
    return on_gpu and many


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")


def _train_loader(bundle: DataBundle, batch_size: int, seed: int, num_workers: int) -> torch.utils.data.DataLoader:
    from selfsup.engine.sampling import EpochSeededSampler

    dataset = ArrayDataset(bundle.x_train, None)  # self-supervised: labels never reach the method
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSeededSampler(dataset, seed),
        drop_last=True,
        collate_fn=collate_batch,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


# ----------------------------------------------------------------------------- after training


def load(run_dir: str | Path) -> nn.Module:
    """The pretrained encoder of a run, rebuilt from ``encoder.json`` + ``encoder.safetensors``."""
    return load_encoder(run_dir)


def _run_config(run_dir: Path) -> Config:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise SelfsupError(f"{run_dir} is not a selfsup run folder (config.yaml is missing).")
    return load_config(path)


def evaluate(run_dir: str | Path, data: str | None = None, modality: str | None = None) -> dict[str, Any]:
    """Evaluate a finished run's encoder (and a random-init one) on its own data or on ``data``.

    On the run's own data this rewrites ``metrics.json``; on other data it writes
    ``eval_<name>.json`` beside it and leaves the run's files as they are.
    """
    from selfsup.engine.evaluation import evaluate_run_encoder
    from selfsup.registry import VIEWS

    run_dir = Path(run_dir)
    config = _run_config(run_dir)
    encoder = load_encoder(run_dir)
    spec = read_yaml_json(run_dir / "encoder.json")
    own = data is None or data == config.data.name
    if not own:
        config = config.model_copy(
            update={"data": config.data.model_copy(update={"name": data, **({"modality": modality} if modality else {})})}
        )
    bundle = _load_bundle(config)
    if tuple(bundle.input_shape) != tuple(spec["input_shape"]):
        raise SelfsupError(
            f"Data {config.data.name!r} has samples of shape {list(bundle.input_shape)}, but the encoder of "
            f"{run_dir} was trained on {spec['input_shape']}."
        )
    _, _, views_name, views_kwargs = _components(config, bundle)
    views = VIEWS.build(views_name, bundle.input_shape, **views_kwargs)
    result = evaluate_run_encoder(
        encoder,
        lambda: build_encoder(spec["name"], bundle.input_shape, spec.get("kwargs", {}), config.train.seed),
        bundle,
        views,
        config.eval,
        seed=config.train.seed,
    )
    target = run_dir / ("metrics.json" if own else f"eval_{_slug(config.data.name)}.json")
    if own and target.is_file():
        previous = read_yaml_json(target)
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
    encoder = load_encoder(run_dir)
    spec = read_yaml_json(run_dir / "encoder.json")
    config = _run_config(run_dir)
    bundle = load_data(data, modality=modality or spec.get("modality", config.data.modality), seed=config.train.seed,
                       test_fraction=config.data.test_fraction, **config.data.options)
    if tuple(bundle.input_shape) != tuple(spec["input_shape"]):
        raise SelfsupError(
            f"Data {data!r} has samples of shape {list(bundle.input_shape)}, but the encoder of {run_dir} "
            f"expects {spec['input_shape']}."
        )
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


def read_yaml_json(path: Path) -> dict[str, Any]:
    import json

    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SelfsupError(f"{path} could not be read as JSON ({err}).") from None


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in Path(name).name)[:60] or "data"

"""The Python entry points: ``pretrain`` here; ``evaluate``, ``embed``, ``load`` (a finished run,
:mod:`selfsup.finished`) re-exported.

The CLI is a thin layer over these; everything a command can do, a function call can do::

    import selfsup
    run = selfsup.pretrain(method="byol", data="digits", epochs=30, out="runs/byol")
    print(run.metrics["pretrained"]["knn_acc"])
    encoder = selfsup.load("runs/byol")
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from selfsup.assembly import (
    RunParts,
    build_parts,
    encoder_description,
    fit_batch_size,
    fit_epochs,
    fit_evaluation,
    load_source,
    use_svm,
    with_init_tokenizer,
)
from selfsup.config import Config, build_config, check_names, config_diff, load_config
from selfsup.data import DataSource
from selfsup.engine.callbacks import InterruptWatch, TimeBudget, TrainClock
from selfsup.engine.early_stopping import EarlyStopping
from selfsup.engine.rundir import (
    check_run_dir,
    clear_run_files,
    holds_run_files,
    incoming_dir,
    remove_unstarted_run,
    replace_run,
    save_encoder,
    write_json,
)
from selfsup.errors import Interrupted, SelfsupError
from selfsup.finished import embed, evaluate, load, slug, write_run_report

__all__ = ["RunResult", "embed", "evaluate", "load", "pretrain"]

# Config keys that may differ when a run is resumed: they change where it runs, not what it learns.
_RESUME_FREE_KEYS = ("train.devices", "train.accelerator", "train.num_workers", "train.strategy", "train.logger", "out")


@dataclass
class RunResult:
    """What :func:`pretrain` returns: the run folder, its final evaluation, the trained encoder."""

    run_dir: Path
    metrics: dict[str, Any]
    encoder: nn.Module


# ----------------------------------------------------------------------------- building


def _is_launched_child() -> bool:
    """True in every process but the first of a multi-process run (they must not write): the extra
    processes Lightning's DDP launcher starts, and those torchrun or SLURM start on other machines."""
    return any(os.environ.get(name, "0") != "0" for name in ("LOCAL_RANK", "NODE_RANK", "RANK", "GROUP_RANK", "SLURM_PROCID"))


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
    ``batch_size``, ``devices``, ``strategy``, ``seed``, ``out``, ``overrides``). ``data`` may
    also be in memory — a NumPy array or torch tensor, ``(x, y)``, a dict with ``x`` / ``y`` /
    ``x_test`` / ``y_test``, a pandas DataFrame (:mod:`selfsup.data.objects`) — or a
    :class:`~selfsup.data.DataSource` object (any modality's, or your own). With
    ``resume=True`` the run in ``out`` continues from ``checkpoints/last.ckpt`` with its saved
    configuration. Returns None in the extra processes of a multi-process launch.

    The steps, in order: resolve the configuration and the run folder; load the data; build the
    encoder, views and method; start the run folder; train; save, evaluate and report.
    """
    import lightning as L

    from selfsup.data.objects import (
        describe,
        infer_modality,
        is_data_object,
        materialize,
        source_from_object,
    )

    given_source = flags.pop("data") if isinstance(flags.get("data"), DataSource) else None
    in_memory = materialize(flags.pop("data")) if is_data_object(flags.get("data")) else None
    if given_source is not None:
        flags = {**flags, "data": given_source.name, "modality": given_source.modality}
    elif in_memory is not None:  # arrays, tensors, a DataFrame: config.yaml records what they were
        modality = flags.get("modality") or infer_modality(in_memory, flags.get("method"))
        flags = {**flags, "data": describe(in_memory), "modality": modality}
    config, out = _resolve_run(config, flags, resume, overwrite, given_source is not None or in_memory is not None)
    L.seed_everything(config.train.seed, workers=True, verbose=False)
    if in_memory is not None:
        given_source = source_from_object(in_memory, config.data.modality, seed=config.train.seed,
                                          test_fraction=config.data.test_fraction, **config.data.options)
    config = with_init_tokenizer(config)
    source = given_source if given_source is not None else load_source(config)
    if resume:
        source.check_resumed(out)
    for note in source.notes:
        warnings.warn(note, stacklevel=2)
    config = fit_epochs(fit_batch_size(config, source), source)
    parts = build_parts(config, source)
    config = fit_evaluation(parts.config, source)
    # --overwrite of an existing run: the new run is written beside it and replaces it only
    # once it has finished, so a run that fails (a bad value found late, a NaN, Ctrl-C) loses
    # nothing of the old one.
    work = incoming_dir(out) if overwrite and not resume and holds_run_files(out) else out
    os.environ["SELFSUP_RUN_DIR"] = str(work)
    created = not work.exists()
    if not resume and not _is_launched_child():
        if work != out:
            shutil.rmtree(work, ignore_errors=True)
        _start_run_folder(config, work, overwrite and work == out)
    elif resume and not _is_launched_child() and config.train.epochs != load_config(work / "config.yaml").train.epochs:
        # the configuration it continues with (more epochs) is the one recorded
        tmp = work / "config.yaml.tmp"
        tmp.write_text(config.to_yaml())
        tmp.replace(work / "config.yaml")
    interrupt = InterruptWatch()
    try:
        final = _train_and_evaluate(parts, source, config, work, resume, [*callbacks, interrupt], progress)
    except BaseException as error:
        if not _is_launched_child():
            if work != out:
                shutil.rmtree(work, ignore_errors=True)
            elif not resume:
                # a run that stopped before its first checkpoint leaves nothing behind that would
                # block the same --out; one with a checkpoint stays, to be continued with --resume
                remove_unstarted_run(work, created)
        # Lightning turns Ctrl-C into exit(1): say what it was, and what is left
        if isinstance(error, KeyboardInterrupt) or interrupt.interrupted:
            raise Interrupted(_interrupted_message(out, work)) from None
        raise
    if final is None:
        return None
    if work != out:
        replace_run(work, out)
    return RunResult(run_dir=out, metrics=final, encoder=parts.method.encoder.eval())


def _train_and_evaluate(
    parts: RunParts, source: DataSource, config: Config, work: Path, resume: bool,
    callbacks: Sequence[Any], progress: bool,
) -> dict[str, Any] | None:
    """Steps 5-7: train, save and evaluate the encoder, write metrics.json and the report into
    ``work``; None in the extra processes of a multi-process launch."""
    from selfsup.engine.trainer import fit

    started = time.time()
    trainer, monitor = fit(parts.method, source, config, work, resume=resume, callbacks=callbacks, progress=progress)
    if not trainer.is_global_zero:
        # the other processes are done: leave the process group before the interpreter exits (a
        # torchrun worker that exited with it still open aborted in gloo's teardown while rank 0 evaluated)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        return None
    train_seconds = time.time() - started
    evaluating = time.time()
    final, held_out_emb = _save_and_evaluate(parts, source, config, work)
    final["eval_seconds"] = round(time.time() - evaluating, 1)  # the final evaluation, apart from training
    final["seconds"] = round(time.time() - started, 1)
    clock = next((c for c in trainer.callbacks if isinstance(c, TrainClock)), None)
    if clock is not None and clock.seconds_per_epoch is not None:
        # the training loop's time per epoch (checkpoints and logging included), and the fixed
        # cost before the first step (Lightning's set-up, the loader) apart
        final["seconds_per_epoch"] = round(clock.seconds_per_epoch, 4)
        final["setup_seconds"] = round(clock.started - started, 2)
    final["train_seconds"] = round(train_seconds, 1)
    budget = next((c for c in trainer.callbacks if isinstance(c, TimeBudget)), None)
    if budget is not None and budget.capped:  # train.max_time: a cap on the epochs' steps
        final["max_time"] = plan = budget.report(trainer.lightning_module, trainer.global_step)
        if plan["steps"] < plan["cap_steps"]:
            final["notes"] = [*final.get("notes", []), (
                f"Training stopped after {plan['trained_seconds']} s, {plan['steps']} of the {plan['cap_steps']} "
                f"steps of {config.train.epochs} epochs ({plan['epochs']} epochs): train.max_time is "
                f"{plan['seconds']:g} s. Train longer with --epochs N or --time-budget 30m.")]
    elif budget is not None:
        final["time_budget"] = plan = budget.report(trainer.lightning_module, trainer.global_step)
        said = (f"Time budget {plan['seconds']:g} s: trained {plan['trained_seconds']} s, {plan['steps']} steps "
                f"({plan['epochs']} epochs; stopped by the {'budget' if plan['stopped_by'] == 'time' else 'plan'}). "
                "Evaluation is not counted. Train longer with a larger --time-budget.")
        final["notes"] = [*final.get("notes", []), said]
    stopping = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
    if stopping is not None:
        final["early_stopping"] = stopping.report()
        final["notes"] = [*final.get("notes", []), stopping.describe()]
    final["method"] = config.method.name
    final["encoder"] = parts.encoder_name
    if monitor is not None and monitor.alarms:
        final["notes"] = final.get("notes", []) + monitor.alarms
    write_json(work / "metrics.json", final)
    write_run_report(work, config, parts.encoder_name, source, final, held_out_emb, parts.method.encoder)
    return final


def _interrupted_message(out: Path, work: Path) -> str:
    if work != out:
        return f"Stopped by Ctrl-C; the run in {out} is as it was."
    if (out / "checkpoints" / "last.ckpt").is_file():
        return (f"Stopped by Ctrl-C; {out} keeps its last checkpoint: continue with "
                f"selfsup pretrain --out {out} --resume.")
    return "Stopped by Ctrl-C before the first checkpoint; nothing was kept."


def _resolve_run(
    config: Config | dict | str | Path | None, flags: dict[str, Any], resume: bool, overwrite: bool,
    data_object: bool = False,
) -> tuple[Config, Path]:
    """Step 1: the validated configuration and its run folder (checked, not yet written)."""
    given = config
    config = build_config(config, **flags)
    if config.out is None and _is_launched_child() and os.environ.get("SELFSUP_RUN_DIR"):
        config = config.model_copy(update={"out": os.environ["SELFSUP_RUN_DIR"]})
    if config.out is None:
        if resume:
            raise SelfsupError("--resume needs --out: the run folder to continue.")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        config = config.model_copy(update={"out": f"runs/{config.method.name}-{slug(config.data.name)}-{stamp}"})
    out = Path(config.out)
    # DDP processes that Lightning launches inherit this, and so write into the same run.
    os.environ["SELFSUP_RUN_DIR"] = str(out)
    if resume:
        check_run_dir(out, resume=True, overwrite=overwrite)
        saved = load_config(out / "config.yaml")
        if given is None:
            # what the user typed, laid over the saved run: only keys they gave can differ (a
            # batch size the run chose itself, or a default they never typed, is not a change)
            requested = build_config(saved.to_dict(), **flags).to_dict()
        else:
            requested = {k: v for k, v in config.to_dict().items() if v is not None}
        changed = [k for k in config_diff(saved.to_dict(), requested)
                   if k.split(".")[0] in requested and not k.startswith(_RESUME_FREE_KEYS)]
        # more epochs continue the run further (the cosine schedule is re-planned to the new end)
        extend = requested.get("train", {}).get("epochs", 0) > saved.train.epochs
        if extend:
            changed.remove("train.epochs")
        if changed:
            raise SelfsupError(
                f"--resume continues the saved configuration of {out}; these keys differ from it: "
                f"{', '.join(changed)}. Drop them, or start a new run with another --out."
            )
        update: dict[str, Any] = {"out": str(out)}
        if extend:
            update["train"] = saved.train.model_copy(update={"epochs": requested["train"]["epochs"]})
        config = saved.model_copy(update=update)
    elif not _is_launched_child():
        check_run_dir(out, resume=False, overwrite=overwrite)
    check_names(config, check_data=not data_object)
    from selfsup.engine.trainer import check_logger

    check_logger(config.train.logger)
    return config, out


def _start_run_folder(config: Config, out: Path, overwrite: bool) -> None:
    """Step 4: the run folder with its config.yaml (an overwritten run's files are cleared)."""
    out.mkdir(parents=True, exist_ok=True)
    if overwrite:
        clear_run_files(out)
    (out / "config.yaml").write_text(config.to_yaml())


def _save_and_evaluate(
    parts: RunParts, source: DataSource, config: Config, out: Path
) -> tuple[dict[str, Any], torch.Tensor]:
    """Step 6: encoder.safetensors + encoder.json, then the final evaluation (pretrained,
    random-init, raw input); also returns the held-out embeddings, for the report."""
    from selfsup.engine.evaluation import evaluate_next_item, evaluate_run_encoder

    encoder = parts.method.encoder.cpu()
    save_encoder(out, encoder, encoder_description(parts, config.data.modality))
    final, held_out_emb = evaluate_run_encoder(
        encoder, parts.random_init, source, parts.views, config.eval, seed=config.train.seed,
        svm=use_svm(config),
    )
    for name, text in source.run_files().items():  # a text run's tokenizer.json
        (out / name).write_text(text, encoding="utf-8")
    method_scores = parts.method.final_scores(source)  # an MLM's pseudo-perplexity
    if method_scores:
        final["pretrained"].update(method_scores)
    # a method that scores items, on data with held-out next items: HR@10 / NDCG@10
    next_item = evaluate_next_item(parts.method, source)
    if next_item is not None:
        final["notes"] += next_item.pop("notes", [])
        if next_item:
            final["next_item"] = next_item
            final["pretrained"].update({key: next_item[key] for key in ("hr@10", "ndcg@10")})  # the report's table
            final["notes"].append(f"Next item: popularity scores hr@10 {next_item['popularity']['hr@10']:.4f}, ndcg@10 "
                                  f"{next_item['popularity']['ndcg@10']:.4f} (metrics.json: next_item).")
    # user–item interactions: full-ranking figures next to popularity and the random-init tables
    if getattr(source, "recommendation", None) is not None and hasattr(encoder, "user_item_embeddings"):
        from selfsup.eval.recommendation import evaluate_recommendation, report_columns

        final["recommendation"] = evaluate_recommendation(
            encoder, parts.random_init if config.eval.random_init else None, source.recommendation,
            seed=config.train.seed)
        report_columns(final)
    if getattr(source, "ids", None):  # the original ids of the embedding rows, for lookups by them
        write_json(out / "ids.json", source.ids)
    return final, held_out_emb


"""How a run is assembled: which encoder and views a method gets on a modality, the data it
reads, and the method built from them, checked against the data before anything is written.

:func:`selfsup.api.pretrain` calls these in order; they are public so that a script can build the
same parts without training (``build_parts(build_config(...), load_source(config))``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from selfsup.config import Component, Config
from selfsup.data import DataSource, load_data
from selfsup.data.base import spec_to_dict
from selfsup.errors import SelfsupError
from selfsup.modality import ModalitySpec
from selfsup.registry import MethodInfo


def components(config: Config, source: DataSource | None) -> tuple[str, dict, str, dict]:
    """Encoder and views (names and keywords) for a run: the recipe's, else the defaults."""
    from selfsup.modality import get_modality
    from selfsup.registry import DATASETS, METHODS

    method, modality = METHODS.info(config.method.name), get_modality(config.data.modality)
    default_encoder, default_views = default_components(method, modality)
    if config.views is None and method.style_required and method.view_style not in modality.views_for:
        raise SelfsupError(
            f"Method {config.method.name!r} learns from {method.view_style!r} views, which the "
            f"{modality.name} modality does not have: with its default views there is nothing to "
            "learn. Name a view maker whose view i applies transformation i with --views, or pick "
            "another method."
        )
    encoder_name = config.encoder.name if config.encoder else default_encoder
    encoder_kwargs = config.encoder.kwargs if config.encoder else {}
    if config.encoder is None and source is not None and modality.size_encoder is not None:
        # no encoder named: the modality fits its default one to the data (said, and recorded)
        sized, why = modality.size_encoder(encoder_name, source.input_spec, source.n_train)
        if sized:
            encoder_kwargs = {**sized, **encoder_kwargs}
            warnings.warn(f"{why} Name the encoder (--encoder {encoder_name}) for its full default size.",
                          stacklevel=3)
    if method.modality == modality.name and encoder_name == method.default_encoder:
        # the paper's encoder settings (SASRec's causal attention); the recipe's own keywords win
        encoder_kwargs = {**method.default_encoder_options, **encoder_kwargs}
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


def build_encoder(name: str, input_spec: Any, kwargs: dict[str, Any], seed: int) -> nn.Module:
    """Build an encoder by name for the modality's input spec, with a fixed initialisation (the
    random-init baseline of a run is exactly the pretrained encoder's starting point)."""
    from selfsup.registry import ENCODERS

    torch.manual_seed(seed)
    return ENCODERS.build(name, input_spec, **kwargs)


def load_source(config: Config, **reader_options: Any) -> DataSource:
    """Step 2: the configured data, read by its built-in loader or its modality's reader
    (``reader_options``: what the library adds to the user's options, e.g. a run's input spec)."""
    return load_data(
        config.data.name,
        modality=config.data.modality,
        seed=config.train.seed,
        test_fraction=config.data.test_fraction,
        **config.data.options,
        **reader_options,
    )


def sample_phrase(source: DataSource, data_name: str) -> Callable[[int], str]:
    """Training sample ``i`` -> how the user finds it in their data (its row before splitting)."""
    if source.source_index is None:
        return lambda i: f"training sample {i} of {data_name}"
    rows = source.source_index
    return lambda i: f"row {int(rows[i])} of {data_name} (training sample {i})"


@dataclass
class RunParts:
    """What :func:`build_parts` makes from a configuration: the method (holding the encoder and
    views), the names and keywords they were built from, and the configuration with those
    defaults resolved (what config.yaml records)."""

    config: Config
    method: Any
    views: nn.Module
    encoder_name: str
    encoder_kwargs: dict[str, Any]
    input_spec: Any

    def random_init(self) -> nn.Module:
        """A fresh encoder with the pretrained one's initial weights."""
        return build_encoder(self.encoder_name, self.input_spec, self.encoder_kwargs, self.config.train.seed)


def fit_batch_size(config: Config, source: DataSource) -> Config:
    """Step 2b: refuse a batch larger than the data, or shrink the default one to fit it."""
    train, n_train = config.train, source.n_train
    if n_train < 2:
        raise SelfsupError(
            f"{config.data.name!r} has {n_train} training sample(s); training compares samples in "
            "batches of at least 2. Check the file holds the data you meant."
        )
    if train.batch_size <= n_train:
        return config
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
        stacklevel=3,
    )
    return config.model_copy(update={"train": train.model_copy(update={"batch_size": size})})


#: the default length of training, in optimiser steps: a few minutes of a default encoder on 2 cores
DEFAULT_STEPS = 3000
#: default epochs are between these two (60: the library's default for small data sets)
DEFAULT_EPOCHS = (5, 60)
#: seconds a run with default epochs trains at most (``train.max_time``), whatever its step time
DEFAULT_MAX_TIME = 360.0


def fit_epochs(config: Config, source: DataSource) -> Config:
    """Step 2c: when neither the user, the recipe nor the modality gives ``train.epochs`` (nor a
    time budget), size it to the data: about :data:`DEFAULT_STEPS` steps, between 5 and 60 epochs (60 for every
    set of up to 12,800 samples at the default batch), said when it is fewer than 60; and cap its
    time at :data:`DEFAULT_MAX_TIME` (``train.max_time``, unless given), since steps cost very
    different times on different data (five sensors' series take seconds a step on 2 cores)."""
    from selfsup.modality import get_modality

    train = config.train
    if "epochs" in train.model_fields_set or train.time_budget:
        return config
    if "epochs" in get_modality(config.data.modality).train_defaults:  # the modality's papers' own
        return config
    steps_per_epoch = max(1, source.n_train // train.batch_size)
    low, high = DEFAULT_EPOCHS
    epochs = min(high, max(low, math.ceil(DEFAULT_STEPS / steps_per_epoch)))
    if epochs < train.epochs:
        warnings.warn(
            f"{epochs} epochs ({epochs * steps_per_epoch} steps of {train.batch_size}), sized to the "
            f"{source.n_train} training samples; train longer with --epochs N or --time-budget 15m.",
            stacklevel=3,
        )
    update: dict[str, Any] = {"epochs": epochs}
    if "max_time" not in train.model_fields_set:
        update["max_time"] = DEFAULT_MAX_TIME
    return config.model_copy(update={"train": train.model_copy(update=update)})


def fit_evaluation(config: Config, source: DataSource) -> Config:
    """Step 2c: a kNN that would vote with every training sample is refused when the user chose
    ``eval.k``, and the default ``k`` is lowered to fit a small set (and said); warn when there
    are fewer training samples than classes (the probes cannot learn every class)."""
    if not source.labeled:
        return config
    n_train, name, k = source.n_train, config.data.name, config.eval.k
    fitted = max(1, min(k, n_train // 2))
    if k >= n_train and "k" in config.eval.model_fields_set:
        raise SelfsupError(
            f"eval.k={k} neighbours is not fewer than the {n_train} training samples of "
            f"{name!r}: the kNN vote would be the same for every sample. Use --set eval.k={fitted}."
        )
    if n_train < source.num_classes:
        warnings.warn(
            f"{name!r} has {n_train} training samples for {source.num_classes} classes: the probes cannot "
            "learn every class, so their accuracies say little.",
            stacklevel=3,
        )
    if k < n_train:
        return config
    warnings.warn(
        f"The default eval.k={k} neighbours is not fewer than the {n_train} training samples of "
        f"{name!r}; using k={fitted} (choose with --set eval.k=N).",
        stacklevel=3,
    )
    return config.model_copy(update={"eval": config.eval.model_copy(update={"k": fitted})})


def build_parts(config: Config, source: DataSource) -> RunParts:
    """Step 3: the encoder (seeded: the random-init baseline is its exact starting point), the
    views and the method, checked against the data before anything is written."""
    from selfsup.registry import METHODS, VIEWS

    encoder_name, encoder_kwargs, views_name, views_kwargs = components(config, source)
    encoder = build_encoder(encoder_name, source.input_spec, encoder_kwargs, config.train.seed)
    if config.train.init is not None:
        start_from_run(encoder, encoder_name, config.train.init)
    views = VIEWS.build(views_name, source.input_spec, **views_kwargs)
    method = METHODS.build(config.method.name, encoder, views, **config.method.kwargs)
    if hasattr(views, "check_data"):  # ViewMaker's hook; a plain nn.Module view maker has none
        views.check_data(source.train, sample_phrase(source, config.data.name))
    if method.uses_labels and source.y_train is None:
        raise SelfsupError(
            f"Method {config.method.name!r} is supervised (it trains on the labels) and "
            f"{config.data.name!r} has none. Pick a self-supervised method, or labeled data."
        )
    method.prepare(source.n_train)
    # config.yaml records what was built, defaults resolved, so it is enough to rerun.
    resolved = config.model_copy(
        update={
            "encoder": Component(name=encoder_name, **encoder_kwargs),
            "views": Component(name=views_name, **views_kwargs),
        }
    )
    return RunParts(resolved, method, views, encoder_name, encoder_kwargs, source.input_spec)


def with_init_tokenizer(config: Config) -> Config:
    """``train.init`` on text: the new run reads its texts with the init run's ``tokenizer.json``
    (token ids must mean what they meant), unless ``data.options.tokenizer`` names one."""
    if config.train.init is None or config.data.modality != "text" or "tokenizer" in config.data.options:
        return config
    tokenizer = Path(config.train.init) / "tokenizer.json"
    if not tokenizer.is_file():
        raise SelfsupError(f"train.init: {tokenizer} does not exist, and text data needs the tokenizer the "
                           f"encoder of {config.train.init} was trained with (or data.options.tokenizer).")
    data = config.data.model_copy(update={"options": {**config.data.options, "tokenizer": str(tokenizer)}})
    return config.model_copy(update={"data": data})


def start_from_run(encoder: nn.Module, encoder_name: str, run: str) -> None:
    """``train.init``: load the encoder weights of the finished run ``run`` into ``encoder``, which
    must have the same weights by name and shape."""
    from selfsup.engine.rundir import load_encoder

    mine, theirs = encoder.state_dict(), load_encoder(run).state_dict()  # errors name the run's files
    differ = sorted(k for k in mine.keys() | theirs.keys()
                    if k not in mine or k not in theirs or mine[k].shape != theirs[k].shape)
    if differ:
        shown = ", ".join(f"{k} ({tuple(theirs[k].shape) if k in theirs else 'absent'} there, "
                          f"{tuple(mine[k].shape) if k in mine else 'absent'} here)" for k in differ[:3])
        raise SelfsupError(f"train.init: the encoder of {run} is not this run's {encoder_name!r} with the same "
                           f"options: {len(differ)} weights differ, e.g. {shown}. Build it as that run's "
                           "encoder.json says.")
    encoder.load_state_dict(theirs)


def encoder_description(parts: RunParts, modality: str) -> dict[str, Any]:
    """What encoder.json records: enough to rebuild the encoder by name with its input spec (the
    options the run set, and those whose default has changed: ``EncoderInfo.changed_defaults``)."""
    from selfsup.registry import ENCODERS

    changed = ENCODERS.info(parts.encoder_name).changed_defaults
    kwargs = {**{key: now for key, (_, now) in changed.items()}, **parts.encoder_kwargs}
    return {"name": parts.encoder_name, **spec_to_dict(parts.input_spec), "kwargs": kwargs, "modality": modality}


def use_svm(config: Config) -> bool:
    """Whether the SVM probe runs: ``eval.svm``, or when unset, the modality's protocol."""
    from selfsup.modality import get_modality

    if config.eval.svm is not None:
        return config.eval.svm
    return get_modality(config.data.modality).svm_probe

"""Validated run configuration: YAML or keyword arguments in, one clear error out.

A recipe maps one-to-one to constructor arguments::

    method:  {name: simclr, temperature: 0.5}     # -> SimCLR(encoder, views, temperature=0.5)
    encoder: {name: small_cnn, width: 32}         # -> small_cnn(input_shape, width=32)
    views:   {name: simclr, hflip: 0.0}           # -> simclr views(input_shape, hflip=0.0)
    data:    {name: digits, modality: image}
    train:   {epochs: 60, batch_size: 256, lr: 0.001}
    eval:    {k: 20, every_n_epochs: 5}
    out: runs/simclr-digits

Every key but the ``name`` of ``method``/``encoder``/``views`` is a field checked here; the extra
keys of those three are checked against the constructor they are passed to. An unknown key,
a wrong type or an unknown name stops with one :class:`SelfsupError` naming it and the
closest valid names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from selfsup.errors import SelfsupError, closest
from selfsup.validate import parse_duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class Component(BaseModel):
    """A registry name plus the keyword arguments of its constructor (extra keys)."""

    model_config = ConfigDict(extra="allow")

    name: str

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DataConfig(_Strict):
    name: str = "digits"
    """A built-in data set name (``selfsup datasets``) or a path to a folder or array file."""
    modality: str | None = None
    """What the data holds; decides the reader, the default views and the default encoder.
    Left out: a built-in data set's own modality, else ``image`` (files are never guessed)."""
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Held-out fraction for labeled files without an explicit test split (stratified)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Reader options, e.g. ``{image_size: 64}`` for a folder of images."""

    @field_validator("name")
    @classmethod
    def _name_given(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("it is empty; give a built-in data set name (selfsup datasets) or a path")
        return name

    @model_validator(mode="after")
    def _resolve_modality(self) -> DataConfig:
        from selfsup.registry import DATASETS

        builtin = DATASETS.info(self.name).modality if self.name in DATASETS else None
        if self.modality is None:
            # object.__setattr__: a plain assignment would re-run this validator
            object.__setattr__(self, "modality", builtin or "image")
        elif builtin is not None and self.modality != builtin:
            raise ValueError(
                f"the built-in data set {self.name!r} holds {builtin} data, not {self.modality}; "
                f"drop the modality or set it to {builtin!r}"
            )
        return self


class TrainConfig(_Strict):
    epochs: int = Field(60, ge=1)
    batch_size: int = Field(256, ge=2)
    optimizer: Literal["adamw", "sgd", "lars"] = "adamw"
    lr: float = Field(2e-3, gt=0.0)
    """Learning rate for a batch of ``lr_reference_batch``; scaled linearly with the global batch."""
    lr_reference_batch: int = Field(256, ge=1)
    """The batch size ``lr`` is given for (papers with small batches, e.g. TS2Vec's 8, set it)."""
    final_lr_ratio: float = Field(0.0, ge=0.0, le=1.0)
    """Learning rate at the end of the cosine decay, as a fraction of the peak (1 = constant)."""
    average_weights: bool = False
    """Evaluate and save the average of the encoder's weights over all steps (TS2Vec's protocol)."""
    checkpoint_every_s: float = Field(0.0, ge=0.0)
    """Write ``last.ckpt`` (what ``--resume`` continues from) at the end of an epoch only when this
    many seconds have passed since the last one, and always after the first and the last epoch.
    0 = after every epoch. Runs of many very short epochs (a graph trained one full-graph step per
    epoch) spend a good part of each epoch writing it; Ctrl-C then keeps the last one written."""
    time_budget: float | None = None
    """Train for this long instead of ``epochs``: seconds, or a duration such as ``90s``, ``5m``,
    ``1.5h``. The run times its first steps, sets the number of steps (and the warm-up and cosine
    schedule) to end within the budget, and stops there; evaluation comes after and is not counted.
    ``epochs`` is then not used (given together as flags, the two are refused)."""
    max_time: float | None = None
    """An upper bound on training time while training ``epochs`` (seconds or ``90s``, ``5m``,
    ``1.5h``): the run times its first steps and plans the smaller of the epochs' steps and the
    steps that end within it, the schedule fitted to them. Set to 6 minutes when the epochs are
    the library's default (sized to the data), so no default run trains for an hour; ``--epochs``
    or a recipe's epochs lift it."""
    early_stopping: int = Field(0, ge=0)
    """Patience: evaluate on the data's validation split every ``validate_every_n_epochs`` epochs
    (interactions: Recall@20), stop after this many evaluations in a row without improvement, and
    restore the best evaluation's weights before the final evaluation; metrics.json's
    ``early_stopping`` says when and why training stopped and which epoch was best. 0 = off (the
    default: every run trains ``epochs``). Refused for data without a validation split."""
    validate_every_n_epochs: int = Field(1, ge=1)
    """How often early stopping evaluates on the validation split (RecBole's ``eval_step``: 1)."""
    weight_decay: float = Field(1e-4, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    warmup_epochs: float = Field(5, ge=0.0)
    gradient_clip: float | None = Field(None, gt=0.0)
    precision: Literal["auto", "32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true",
                       "32", "64", "16", "bf16", "transformer-engine", "transformer-engine-float16"] = "auto"
    """``auto`` = bf16/16 mixed on GPU, 32-bit on CPU; or a Lightning precision string."""
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps", "tpu", "xla", "hpu"] = "auto"
    devices: int | str = 1
    """How many devices (processes on CPU) to train on, or ``auto`` for all."""
    strategy: str = "auto"
    """A Lightning strategy name: ``auto``, ``ddp``, ``ddp_spawn``, ``fsdp``, …"""
    num_nodes: int = Field(1, ge=1)
    """Machines the run spans, each running ``devices`` processes; above 1 the run is started on
    every machine by a launcher (``torchrun --nnodes N --node_rank R …``, or SLURM's ``srun``) and
    needs ``strategy: ddp`` (README, "Many machines")."""
    num_workers: int = Field(0, ge=0)
    seed: int = Field(0, ge=0, lt=2**32)
    """Seeds Python, NumPy and torch (NumPy takes 0 … 2**32 - 1)."""
    log_every_n_steps: int = Field(5, ge=1)
    logger: Literal["csv", "tensorboard", "mlflow", "wandb"] = "csv"
    """Where per-step logs go besides the run's metrics.csv (always written): a Lightning
    logger writing into the run folder (``tensorboard/``, ``mlruns/``, ``wandb/``, W&B offline)."""


    @field_validator("time_budget", "max_time", mode="before")
    @classmethod
    def _time_budget(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: int | str) -> int | str:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or (isinstance(value, int) and value < 1) or (isinstance(value, str) and value != "auto"):
            raise ValueError("devices is a number of devices >= 1, or auto for all of them")
        return value

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        from lightning.pytorch.strategies import StrategyRegistry

        names = ["auto", *StrategyRegistry.available_strategies()]
        if value not in names:
            near = closest(value, names)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise ValueError(f"unknown strategy{hint}; valid: {', '.join(names)}")
        return value


class EvalConfig(_Strict):
    k: int = Field(20, ge=1)
    """Neighbours for weighted kNN."""
    every_n_epochs: int = Field(5, ge=0)
    """Online kNN / RankMe monitors every N epochs (0 turns them off)."""
    max_monitor_samples: int = Field(4096, ge=16)
    """Cap on the samples the online monitors embed, to keep them cheap."""
    collapse_ratio_alarm: float = Field(0.1, ge=0.0)
    """Warn when std(normalised embeddings) * sqrt(D) falls below this (collapse)."""
    random_init: bool = True
    """Also evaluate a random-init encoder of the same architecture."""
    raw_input: bool = True
    """Also evaluate the flattened raw inputs, where the data is a fixed-shape tensor."""
    max_train_samples: int = Field(100_000, ge=2)
    """The probes (kNN, linear, SVM) fit on at most this many training samples: a seeded random
    subset beyond it, so evaluating a graph of millions of nodes or a very large image set stays
    bounded (the run's notes say so)."""
    svm: bool | None = None
    """Also fit TS2Vec's RBF-SVM probe (``svm_acc``, ``svm_f1``). None = when the modality asks
    for it (time series, where the published figures use this protocol)."""
    linear_max_samples: int = Field(20_000, ge=2)
    """The linear probe fits on at most this many training samples: a seeded stratified subset
    beyond it (said in the run's notes). Logistic regression on all 60,000 Fashion-MNIST
    embeddings took most of a short run's evaluation; 20,000 cost a fraction of a point."""
    svm_cv_samples: int = Field(1_000, ge=2)
    """The SVM probe chooses its ``C`` by cross-validation on at most this many training samples
    (a seeded stratified subset), then fits that ``C`` on all of them. TS2Vec's paper
    cross-validates on up to 10,000: set 10000 to match it exactly on larger sets (51 kernel-SVM
    fits on 3,000 samples cost minutes on a CPU)."""


class Config(_Strict):
    method: Component = Field(default_factory=lambda: Component(name="simclr"))
    encoder: Component | None = None
    """None = the modality's default encoder."""
    views: Component | None = None
    """None = the modality's default view maker."""
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    regularizers: dict[str, float] = Field(default_factory=dict)
    """Name -> weight of embedding regularisers added to the method's loss (``selfsup methods``)."""
    out: str | None = None
    """Run folder; None = ``runs/<method>-<data>-<date-time>``, a new folder every run."""

    @field_validator("method", "encoder", "views", mode="before")
    @classmethod
    def _name_shorthand(cls, value: Any) -> Any:
        # `method: simclr` is shorthand for `method: {name: simclr}`.
        return {"name": value} if isinstance(value, str) else value

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


# ----------------------------------------------------------------------------- building


def _field_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


_SECTIONS: dict[str, type[BaseModel]] = {
    "data": DataConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
}


def _describe_error(err: ValidationError, source: str) -> SelfsupError:
    """Turn pydantic's report into one message naming the key and the closest valid ones."""
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"]]
    key = ".".join(loc)
    if first["type"] == "extra_forbidden":
        parent = Config if len(loc) == 1 else _SECTIONS.get(loc[0], Config)
        valid = _field_names(parent)
        near = closest(loc[-1], valid)
        hint = f" Did you mean {', '.join(repr(n) for n in near)}?" if near else ""
        prefix = "" if len(loc) == 1 else f"{loc[0]}."
        return SelfsupError(
            f"Unknown config key {key!r} in {source}.{hint} "
            f"Valid keys: {', '.join(prefix + v for v in valid)}."
        )
    if first["type"] == "missing" and loc[-1] == "name" and loc[0] in ("method", "encoder", "views"):
        return SelfsupError(
            f"Options for {loc[0]!r} are given in {source} but not its name: set {loc[0]}.name "
            f"(e.g. --{loc[0]} NAME or --set {loc[0]}.name=NAME) along with them."
        )
    value = first.get("input")
    message = first["msg"].removeprefix("Value error, ")  # a validator's own words, without pydantic's label
    return SelfsupError(f"Bad value for config key {key!r} in {source}: {message} (got {value!r}).")


def make_config(data: dict[str, Any] | None = None, source: str = "the configuration") -> Config:
    """Validate a nested dict into a :class:`Config` (names are checked by :func:`check_names`)."""
    try:
        return Config.model_validate(data or {})
    except ValidationError as err:
        raise _describe_error(err, source) from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise SelfsupError(f"Config file {str(path)!r} is a folder; give a recipe's .yaml file (see configs/).")
    if not path.is_file():
        raise SelfsupError(f"Config file {str(path)!r} does not exist.")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SelfsupError(f"Config file {str(path)!r} is not a text file; a recipe is YAML (see configs/).") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SelfsupError(f"Config file {str(path)!r} is not valid YAML{line}: {problem}.") from None
    if loaded is None:
        raise SelfsupError(f"Config file {str(path)!r} is empty; a recipe is a YAML mapping such as 'method: simclr' (see configs/).")
    if not isinstance(loaded, dict):
        raise SelfsupError(f"Config file {str(path)!r} must hold a mapping of keys, not {type(loaded).__name__}.")
    return loaded


def load_config(path: str | Path) -> Config:
    return make_config(read_yaml(path), source=str(path))


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply ``key.sub=value`` (value parsed as YAML) to a nested dict in place."""
    if "=" not in assignment:
        raise SelfsupError(f"--set expects key=value, got {assignment!r} (e.g. --set train.lr=0.01).")
    key, raw = assignment.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise SelfsupError(f"--set has an empty key in {assignment!r}.")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and value.strip().lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        value = float(value)  # what a user means by nan/inf (YAML spells them .nan/.inf); refused where a number must be finite
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if isinstance(child, str) and part in ("method", "encoder", "views"):
            child = {"name": child}
        if child is None:
            child = {}
        if not isinstance(child, dict):
            raise SelfsupError(f"--set {key}: {part!r} is not a section.")
        node[part] = child
        node = child
    node[parts[-1]] = value


def set_component(data: dict[str, Any], section: str, name: str | None) -> None:
    """Set ``section.name`` from a CLI flag; a different name drops the recipe's kwargs for it,
    since they belong to the other constructor."""
    if name is None:
        return
    current = data.get(section)
    if isinstance(current, str):
        current = {"name": current}
    if isinstance(current, dict) and current.get("name") == name:
        return
    data[section] = {"name": name}


def check_names(config: Config, check_data: bool = True) -> None:
    """Check method/encoder/views/data/modality names and constructor kwargs against the
    registries, so a typo fails before any data is read or model built."""
    from selfsup.data import check_data_spec
    from selfsup.modality import get_modality
    from selfsup.registry import ENCODERS, METHODS, REGULARIZERS, VIEWS, check_kwargs

    get_modality(config.data.modality)
    for registry, component in ((METHODS, config.method), (ENCODERS, config.encoder), (VIEWS, config.views)):
        if component is None:
            continue
        factory = registry.get(component.name)
        check_kwargs(factory, component.kwargs, f"{registry.kind} {component.name!r}")
    if check_data:  # False when the data is an object passed to the API, not a name or path
        check_data_spec(config.data.name)
    for name, weight in config.regularizers.items():
        REGULARIZERS.entry(name)
        if weight < 0:
            raise SelfsupError(f"regularizers.{name} must be a weight >= 0, got {weight}.")


def build_config(
    config: Config | dict | str | Path | None = None,
    *,
    method: str | None = None,
    encoder: str | None = None,
    views: str | None = None,
    data: str | None = None,
    modality: str | None = None,
    epochs: int | None = None,
    time_budget: float | str | None = None,
    batch_size: int | None = None,
    devices: int | str | None = None,
    strategy: str | None = None,
    seed: int | None = None,
    logger: str | None = None,
    out: str | Path | None = None,
    overrides: Sequence[str] | dict[str, Any] = (),
) -> Config:
    """Merge a recipe (object, dict or YAML path), flag-style arguments and ``key=value``
    overrides, in that order, into one validated :class:`Config`."""
    if epochs is not None and time_budget is not None:
        raise SelfsupError("--epochs and --time-budget both set how long to train; give one of them.")
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
        "train.time_budget": time_budget,
        "train.batch_size": batch_size,
        "train.devices": devices,
        "train.strategy": strategy,
        "train.seed": seed,
        "train.logger": logger,
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
    return with_modality_defaults(make_config(raw, source=source))


def with_modality_defaults(config: Config) -> Config:
    """``config`` with the training settings its modality's papers use
    (:attr:`~selfsup.modality.ModalitySpec.train_defaults`: recommenders train with batches of
    2048 at a constant learning rate) where the recipe and the flags set none. They stay defaults:
    a check that asks whether the user chose a value (a batch larger than the data) sees no choice."""
    from selfsup.modality import get_modality

    try:
        defaults = get_modality(config.data.modality).train_defaults
    except SelfsupError:  # an unknown modality: check_names says so
        return config
    chosen = config.train.model_fields_set
    applied = {key: value for key, value in defaults.items()
               if key not in chosen and not (key == "epochs" and config.train.time_budget)}
    if not applied:
        return config
    train = config.train.model_copy(update=applied)
    train.__pydantic_fields_set__.difference_update(applied)
    return config.model_copy(update={"train": train})


def _assign(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def config_diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(a) | set(b)):
        path = f"{prefix}{key}"
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            keys.extend(config_diff(va, vb, path + "."))
        elif va != vb:
            keys.append(path)
    return keys

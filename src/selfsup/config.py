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
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from selfsup.config_sections import Component, DataConfig, EvalConfig, Strict, TrainConfig

__all__ = ["Component", "Config", "DataConfig", "EvalConfig", "TrainConfig", "build_config", "load_config",
           "make_config", "read_yaml"]
from selfsup.errors import SelfsupError, closest


class Config(Strict):
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
    return with_train_defaults(make_config(raw, source=source))


def with_train_defaults(config: Config) -> Config:
    """``config`` with the training settings its modality's papers use
    (:attr:`~selfsup.modality.ModalitySpec.train_defaults`: recommenders train with batches of
    2048 at a constant learning rate), and over them its method's
    (:attr:`~selfsup.registry.MethodInfo.default_train`), where the recipe and the flags set none.
    They stay defaults: a check that asks whether the user chose a value (a batch larger than the
    data) sees no choice."""
    from selfsup.modality import get_modality
    from selfsup.registry import METHODS

    try:
        defaults = dict(get_modality(config.data.modality).train_defaults)
    except SelfsupError:  # an unknown modality: check_names says so
        defaults = {}
    if config.method.name in METHODS:  # an unknown method: check_names says so
        defaults.update(METHODS.info(config.method.name).default_train)
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

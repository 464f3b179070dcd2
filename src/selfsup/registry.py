"""Name -> factory registries for methods, encoders, view makers, data sets and modalities.

Every entry is also a plain class or function a user can call directly; the registry only
adds lookup by name (for the CLI and YAML recipes), typed facts about the entry (its *info*:
:class:`MethodInfo`, :class:`EncoderInfo` …) and clear errors for unknown names, keyword
arguments and invalid values.

The modality-free core (``selfsup.methods``, ``selfsup.encoders``, ``selfsup.views``, the
regularizers) registers itself on first lookup. Modality packages (``selfsup.modalities.<name>``)
are imported only when a name is not found in the core, or when every name is listed; a modality
whose optional dependency is missing is skipped there and reported when it is used
(:mod:`selfsup.modality`).
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

from selfsup.errors import SelfsupError, closest, unknown_name

# ----------------------------------------------------------------------------- typed entry facts


@dataclass(frozen=True)
class MethodInfo:
    """What ``selfsup methods`` shows about a method, and what it needs from a modality.

    Attributes:
        family: catalogue family ("contrastive", "self-distillation", …).
        paper: the paper the defaults come from.
        modality: the one modality the method is written for (it then lives in that
            modality's package), or None when it takes any.
        needs: encoder capabilities the method requires (``"tokens"``: MAE, JEPA); the
            modality's spec names the encoder that provides each.
        view_style: the kind of views the method's paper trains with (``"asymmetric"``:
            BYOL's pair, ``"multicrop"``, ``"rotation"``, or ``"none"``); the modality maps a
            style to its view maker, and its default views apply when it has no such style.
        style_required: the method learns nothing from views of another style (RotNet: the
            label of a view is its transformation), so a modality without the style is
            refused unless the recipe names a view maker.
        default_encoder / default_views: for a modality's own methods, the encoder and views
            of the paper's recipe on that modality.
        default_encoder_options: the options that encoder gets under this method unless the
            recipe sets them (SASRec: ``event_transformer`` with ``causal=True``).
        default_train: ``train.*`` settings the method trains with unless the recipe or the flags
            set them; they take precedence over the modality's ``train_defaults`` (SimCSE from
            scratch: a lower learning rate than the text modality's, which suits MLM).
        input: what the method's batches hold, when it is more than the modality's default.
    """

    family: str
    paper: str = ""
    modality: str | None = None
    needs: tuple[str, ...] = ()
    view_style: str | None = None
    style_required: bool = False
    default_encoder: str | None = None
    default_views: str | None = None
    default_encoder_options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    default_train: Mapping[str, Any] = field(default_factory=dict, hash=False)
    input: str | None = None


@dataclass(frozen=True)
class EncoderInfo:
    """Facts about an encoder: its modality (``"any"`` for modality-free encoders), the optional
    contracts it implements (``tokens``: ``forward_tokens``; ``sequence``:
    ``forward_sequence``), and a line for listings.

    ``changed_defaults`` keeps old runs loadable when an option's default changes the weights an
    encoder has: ``{option: (default before, default now)}``. ``encoder.json`` always records such
    an option, so an ``encoder.json`` without it was written before the change and the encoder is
    rebuilt with the old default."""

    modality: str = "any"
    description: str = ""
    tokens: bool = False
    sequence: bool = False
    output_dim: int | None = None
    paper: str = ""
    changed_defaults: Mapping[str, tuple[Any, Any]] = field(default_factory=dict, hash=False)

    @property
    def capabilities(self) -> tuple[str, ...]:
        return tuple(name for name in ("tokens", "sequence") if getattr(self, name))


@dataclass(frozen=True)
class ViewsInfo:
    """Facts about a view maker: the modality whose batches it augments (``"any"``)."""

    modality: str = "any"
    description: str = ""
    paper: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """A built-in data set: its modality, a line for ``selfsup datasets``, its size when
    known, and view keywords that suit it (digits are not flip-invariant)."""

    modality: str
    description: str = ""
    n: int | None = None
    view_defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RegularizerInfo:
    description: str = ""
    paper: str = ""


Info = TypeVar("Info")


@dataclass
class Entry(Generic[Info]):
    name: str
    factory: Callable[..., Any]
    info: Info


class Registry(Generic[Info]):
    """A named collection of factories of one kind (``"method"``, ``"encoder"`` …), each with
    typed facts of class ``info_type``."""

    def __init__(self, kind: str, info_type: type) -> None:
        self.kind = kind
        self.info_type = info_type
        self._entries: dict[str, Entry[Info]] = {}

    def register(self, name: str, **info: Any) -> Callable[[Callable], Callable]:
        """Decorator: ``@METHODS.register("simclr", family="contrastive", paper="…")``; the
        keywords are the fields of this registry's info type (a typo is a TypeError at import)."""
        facts = self.info_type(**info)

        def decorate(factory: Callable) -> Callable:
            if name in self._entries and self._entries[name].factory is not factory:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = Entry(name, factory, facts)
            return factory

        return decorate

    def entry(self, name: str) -> Entry[Info]:
        load_builtins()
        if name not in self._entries:
            load_modalities()
        if name not in self._entries:
            raise unknown_name(self.kind, name, self._entries)
        return self._entries[name]

    def info(self, name: str) -> Info:
        return self.entry(name).info

    def get(self, name: str) -> Callable[..., Any]:
        return self.entry(name).factory

    def names(self) -> list[str]:
        load_builtins()
        load_modalities()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        load_builtins()
        if name not in self._entries:
            load_modalities()
        return name in self._entries

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the factory for ``name``, first checking ``kwargs`` against its signature.

        An invalid value (a constructor's ``ValueError``/``TypeError``) becomes one
        :class:`SelfsupError` naming the entry, so a user's mistake in a recipe is never a
        traceback."""
        factory = self.get(name)
        what = f"{self.kind} {name!r}"
        check_kwargs(factory, kwargs, what)
        try:
            return factory(*args, **kwargs)
        except SelfsupError:
            raise
        except (ValueError, TypeError) as error:
            raise SelfsupError(f"Invalid option for {what}: {error}") from error


def accepted_kwargs(factory: Callable) -> list[str] | None:
    """Keyword names ``factory`` accepts, or None when it takes ``**kwargs``."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    params = inspect.signature(target).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return [
        p.name
        for p in params
        if p.name != "self"
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]


# What the builders pass themselves (``factory(input_shape, **kwargs)``,
# ``Method(encoder, views, **kwargs)``): never a recipe's option, so never listed as one.
BUILDER_ARGUMENTS = frozenset({"input_shape", "encoder", "views"})


def check_kwargs(factory: Callable, kwargs: dict[str, Any], what: str) -> None:
    """Raise one clear error naming any keyword ``factory`` does not accept, and the valid ones
    (the arguments of :data:`BUILDER_ARGUMENTS` are not options)."""
    valid = accepted_kwargs(factory)
    if valid is None:
        return
    valid = [k for k in valid if k not in BUILDER_ARGUMENTS]
    listing = f"Valid options: {', '.join(valid)}." if valid else f"The {what} takes no options."
    for key in kwargs:
        if key in BUILDER_ARGUMENTS:
            raise SelfsupError(
                f"{key!r} is not an option of {what}: selfsup passes it when building. {listing}"
            )
        if key not in valid:
            near = closest(key, valid)
            hint = f" Did you mean {', '.join(repr(c) for c in near)}?" if near else ""
            raise SelfsupError(f"Unknown option {key!r} for {what}.{hint} {listing}")
    check_kwarg_types(factory, kwargs, what)


def check_kwarg_types(factory: Callable, kwargs: dict[str, Any], what: str) -> None:
    """Refuse a value whose kind differs from its parameter's default: a word or a list where
    the default is a number (``temperature=abc``), a non-boolean for a boolean, and NaN or an
    infinity for any number. Parameters without a default, or with ``None``, are not checked."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    params = inspect.signature(target).parameters
    for key, value in kwargs.items():
        default = params[key].default if key in params else inspect.Parameter.empty
        if isinstance(value, float) and not math.isfinite(value):
            raise SelfsupError(f"Invalid option for {what}: {key} must be a finite number, got {value}.")
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise SelfsupError(f"Invalid option for {what}: {key} must be true or false, got {value!r}.")
        elif isinstance(default, (int, float)) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise SelfsupError(f"Invalid option for {what}: {key} must be a number (default {default}), got {value!r}.")


def info_fields(info_type: type) -> list[str]:
    return [f.name for f in fields(info_type)]


METHODS: Registry[MethodInfo] = Registry("method", MethodInfo)
ENCODERS: Registry[EncoderInfo] = Registry("encoder", EncoderInfo)
VIEWS: Registry[ViewsInfo] = Registry("view maker", ViewsInfo)
DATASETS: Registry[DatasetInfo] = Registry("data set", DatasetInfo)
# name -> loss(z: [B, D]) -> scalar, added to any method's loss on its encoder outputs.
REGULARIZERS: Registry[RegularizerInfo] = Registry("regularizer", RegularizerInfo)

# The modality-free modules whose import registers the core entries.
CORE_MODULES = (
    "selfsup.methods",
    "selfsup.encoders",
    "selfsup.views",
    "selfsup.losses.regularizers",
)
_loaded = False


def load_builtins() -> None:
    """Import the modality-free core (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in CORE_MODULES:
        importlib.import_module(module)


def load_modalities() -> None:
    """Import every modality package that imports (once); see :mod:`selfsup.modality`."""
    from selfsup.modality import load_all_modalities

    load_all_modalities()

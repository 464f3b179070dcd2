"""Name -> factory registries for methods, encoders, view makers and data sets.

Every entry is also a plain class or function a user can call directly; the registry only
adds lookup by name (for the CLI and YAML recipes), metadata for ``selfsup methods`` and
clear errors for unknown names or keyword arguments.

Modules register themselves on import; :func:`load_builtins` imports them all, lazily, so
``import selfsup`` stays cheap.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from selfsup.errors import SelfsupError, closest, unknown_name


@dataclass
class Entry:
    name: str
    factory: Callable[..., Any]
    meta: dict[str, Any] = field(default_factory=dict)


class Registry:
    """A named collection of factories of one kind (``"method"``, ``"encoder"`` …)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, **meta: Any) -> Callable[[Callable], Callable]:
        """Decorator: ``@METHODS.register("simclr", family="contrastive", paper="…")``."""

        def decorate(factory: Callable) -> Callable:
            if name in self._entries and self._entries[name].factory is not factory:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = Entry(name, factory, dict(meta))
            return factory

        return decorate

    def entry(self, name: str) -> Entry:
        load_builtins()
        if name not in self._entries:
            raise unknown_name(self.kind, name, self._entries)
        return self._entries[name]

    def get(self, name: str) -> Callable[..., Any]:
        return self.entry(name).factory

    def names(self) -> list[str]:
        load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        load_builtins()
        return name in self._entries

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the factory for ``name``, first checking ``kwargs`` against its signature."""
        factory = self.get(name)
        check_kwargs(factory, kwargs, f"{self.kind} {name!r}")
        return factory(*args, **kwargs)


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


def check_kwargs(factory: Callable, kwargs: dict[str, Any], what: str) -> None:
    """Raise one clear error naming any keyword ``factory`` does not accept."""
    valid = accepted_kwargs(factory)
    if valid is None:
        return
    for key in kwargs:
        if key not in valid:
            near = closest(key, valid)
            hint = f" Did you mean {', '.join(repr(c) for c in near)}?" if near else ""
            raise SelfsupError(
                f"Unknown option {key!r} for {what}.{hint} Valid options: {', '.join(valid)}."
            )


METHODS = Registry("method")
ENCODERS = Registry("encoder")
VIEWS = Registry("view maker")
DATASETS = Registry("data set")
# name -> loss(z: [B, D]) -> scalar, added to any method's loss on its encoder outputs.
REGULARIZERS = Registry("regularizer")
# modality name -> reader(path: Path, seed: int, test_fraction: float) -> DataBundle;
# meta: default_encoder, default_views (names in ENCODERS / VIEWS).
MODALITIES = Registry("modality")

# Modules whose import registers the built-in entries.
_BUILTIN_MODULES = (
    "selfsup.methods",
    "selfsup.encoders",
    "selfsup.views",
    "selfsup.data",
    "selfsup.losses.regularizers",
)
_loaded = False


def load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)

"""Modalities as plug-ins: the typed :class:`ModalitySpec` and lazy loading by name.

A modality is a package ``selfsup.modalities.<name>`` that registers its readers, built-in data
sets, views, encoders (and any methods written for it) on import and calls
:func:`register_modality` with its spec. Nothing imports a modality package until it is needed:

- :func:`get_modality` imports ``selfsup.modalities.<name>`` alone;
- :func:`load_all_modalities` imports every package found there (for listings and for names
  not found in the core); a package whose import fails (a missing optional dependency) is left
  out and remembered, and using it raises one :class:`SelfsupError` naming the extra to install.

So ``import selfsup`` and ``selfsup methods`` work whatever optional packages are missing.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from selfsup.errors import SelfsupError, unknown_name


@dataclass(frozen=True)
class ModalitySpec:
    """What a modality brings, typed.

    Attributes:
        name: the ``--modality`` name.
        description: one line for ``selfsup datasets``.
        read: ``read(path, seed=, test_fraction=, **options) -> DataSource`` for user files.
        default_encoder / default_views: registry names used when the recipe names none.
        encoders_for: capability -> encoder name (``{"tokens": "vit_tiny"}``): what a method
            that ``needs`` a capability gets on this modality.
        views_for: view style -> view maker name (``{"asymmetric": "byol"}``): what a method
            whose paper trains with that style of views gets here.
        svm_probe: evaluate with the RBF-SVM probe by default (the time-series literature's
            protocol).
        extra: the ``pip install selfsup[<extra>]`` that brings the modality's optional
            dependencies.
        input_spec_from_dict: rebuilds the modality's input spec from ``encoder.json``.
        size_encoder: ``size_encoder(name, input_spec, n_train) -> (kwargs, why)``: options that
            fit the modality's default encoder to the data when the user names no encoder (a
            series of 40 steps does not need a receptive field of thousands), and one line saying
            what was chosen; ``({}, "")`` keeps the encoder's own defaults.
        reads_with_run_spec: the reader and built-ins take ``input_spec=`` (a run's, rebuilt
            from ``encoder.json``) and encode data with what it carries (tables: the train
            split's means, stds and categories) instead of fitting that anew; ``evaluate`` and
            ``embed`` pass it, so a run's encoder always sees its inputs encoded as in training.
        train_defaults: ``train.*`` settings the modality's papers train with, used where the
            recipe and the flags set none (interactions: batches of 2048, Adam at a constant 1e-3).
        read_object: ``read_object(data, seed=, test_fraction=, **options) -> DataSource | None`` for
            in-memory data the modality reads natively (images: a Hugging Face dataset, streamed from
            its Arrow files); None from it, or no hook, leaves the data to the generic path of
            :mod:`selfsup.data.objects` (saved as a file the modality's reader reads).
    """

    name: str
    description: str
    read: Callable[..., Any]
    default_encoder: str
    default_views: str
    input_spec_from_dict: Callable[[dict[str, Any]], Any]
    encoders_for: Mapping[str, str] = field(default_factory=dict)
    views_for: Mapping[str, str] = field(default_factory=dict)
    svm_probe: bool = False
    extra: str | None = None
    reads_with_run_spec: bool = False
    size_encoder: Callable[[str, Any, int], tuple[dict[str, Any], str]] | None = None
    train_defaults: Mapping[str, Any] = field(default_factory=dict)
    read_object: Callable[..., Any] | None = None


_SPECS: dict[str, ModalitySpec] = {}
# modality package -> why it could not be imported (its optional dependency is missing)
_UNAVAILABLE: dict[str, str] = {}
_all_loaded = False
PACKAGE = "selfsup.modalities"


def register_modality(spec: ModalitySpec) -> ModalitySpec:
    """Make ``spec`` known under ``spec.name`` (a modality package calls this on import)."""
    if spec.name in _SPECS and _SPECS[spec.name] is not spec:
        raise ValueError(f"modality {spec.name!r} registered twice")
    _SPECS[spec.name] = spec
    return spec


def package_names() -> list[str]:
    """The modality packages that exist under ``selfsup/modalities`` (imported or not)."""
    package = importlib.import_module(PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg)


def _import(name: str) -> bool:
    try:
        importlib.import_module(f"{PACKAGE}.{name}")
    except ImportError as error:
        _UNAVAILABLE[name] = str(error)
        return False
    return True


def get_modality(name: str) -> ModalitySpec:
    """The spec of modality ``name``, importing its package on first use."""
    if name not in _SPECS and name in package_names():
        _import(name)
    if name in _SPECS:
        return _SPECS[name]
    if name in _UNAVAILABLE:
        raise SelfsupError(
            f"The {name!r} modality needs a package that is not installed ({_UNAVAILABLE[name]}). "
            f"Install it with: pip install 'selfsup[{name}]'."
        )
    load_all_modalities()
    raise unknown_name("modality", name, _SPECS)


def load_all_modalities() -> None:
    """Import every modality package that imports (once); see the module doc."""
    global _all_loaded
    if _all_loaded:
        return
    _all_loaded = True
    for name in package_names():
        if name not in _SPECS:
            _import(name)


def modality_names() -> list[str]:
    load_all_modalities()
    return sorted(_SPECS)


def unavailable_modalities() -> dict[str, str]:
    """Modality packages left out because an import failed: name -> the import error."""
    load_all_modalities()
    return dict(_UNAVAILABLE)


def require(module: str, extra: str | None, purpose: str) -> Any:
    """Import optional dependency ``module`` for ``purpose``, or raise one SelfsupError naming
    the extra that installs it (``require("aeon", "timeseries", "reading .ts files")``; with no
    extra, the package itself)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        install = f"pip install 'selfsup[{extra}]'" if extra else f"pip install {module}"
        raise SelfsupError(
            f"{purpose} needs the package {module!r}, which is not installed. Install it with: {install}."
        ) from None

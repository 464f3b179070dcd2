"""Self-supervised methods, one module per method, named by its registry name
(``selfsup.methods.simclr`` holds ``simclr``).

Importing this package imports every module in it, which registers every built-in method in
:data:`selfsup.registry.METHODS`; :mod:`selfsup.methods.base` (the :class:`Method` contract)
stays importable on its own. A few modules register nothing and hold what several methods
share: :mod:`~selfsup.methods.projection_method` (SimCLR's encoder + projector pipeline),
:mod:`~selfsup.methods.per_sample_state` and :mod:`~selfsup.methods.checks`. A new method is a
new module here: nothing else to edit.
"""

from __future__ import annotations

import importlib
import pkgutil

from selfsup.methods.barlow_twins import BarlowTwins
from selfsup.methods.base import Method
from selfsup.methods.byol import BYOL
from selfsup.methods.simclr import SimCLR
from selfsup.methods.vicreg import VICReg

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["BYOL", "BarlowTwins", "Method", "SimCLR", "VICReg"]

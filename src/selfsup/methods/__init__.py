"""Self-supervised methods, one module per family.

Importing this package imports every module in it, which registers every built-in method in
:data:`selfsup.registry.METHODS`; :mod:`selfsup.methods.base` (the :class:`Method` contract)
stays importable on its own. A new family is a new module here: nothing else to edit.
"""

from __future__ import annotations

import importlib
import pkgutil

from selfsup.methods.base import Method
from selfsup.methods.contrastive import SimCLR
from selfsup.methods.distillation import BYOL
from selfsup.methods.redundancy import BarlowTwins, VICReg

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Method", "SimCLR", "BYOL", "BarlowTwins", "VICReg"]

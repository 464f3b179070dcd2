"""Self-supervised methods, one module per family.

Importing this package registers every built-in method in :data:`selfsup.registry.METHODS`;
:mod:`selfsup.methods.base` (the :class:`Method` contract) stays importable on its own.
"""

from __future__ import annotations

from selfsup.methods.base import Method
from selfsup.methods.contrastive import SimCLR
from selfsup.methods.distillation import BYOL
from selfsup.methods.redundancy import BarlowTwins, VICReg

__all__ = ["Method", "SimCLR", "BYOL", "BarlowTwins", "VICReg"]

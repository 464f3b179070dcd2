"""selfsup: self-supervised representation learning on any kind of data.

The Python API (``pretrain``, ``evaluate``, ``embed``, ``load``, ``finetune``) is imported lazily so that
``import selfsup`` does not pull in Lightning or the modality packages.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["SelfsupError", "__version__", "embed", "evaluate", "finetune", "load", "pretrain"]

from selfsup.errors import SelfsupError


def __getattr__(name: str) -> Any:
    if name in ("pretrain", "evaluate", "embed", "load"):
        from selfsup import api

        return getattr(api, name)
    if name == "finetune":
        from selfsup.finetuning import finetune

        return finetune
    raise AttributeError(f"module 'selfsup' has no attribute {name!r}")

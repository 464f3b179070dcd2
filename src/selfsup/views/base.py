"""The view-maker contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from torch import nn


class ViewMaker(nn.Module, ABC):
    """Makes ``n`` random views of a whole batch at once, on the batch's device.

    ``views(batch, n)`` returns ``n`` shallow copies of ``batch`` whose ``"x"`` is replaced by an
    augmented version (other keys — ``"y"``, ``"index"``, ``"group"`` — are carried over).
    Subclasses implement :meth:`augment` for view number ``i``; views may differ by index
    (BYOL's asymmetric pair).
    """

    @abstractmethod
    def augment(self, x: Any, i: int) -> Any:
        """View number ``i`` of the whole input ``x`` (per-sample random parameters)."""

    def forward(self, batch: dict[str, Any], n: int = 2) -> list[dict[str, Any]]:
        return [{**batch, "x": self.augment(batch["x"], i)} for i in range(n)]

    def check_data(self, data: Any, describe: Callable[[int], str]) -> None:
        """Refuse, before training, a data set these views cannot make views of.

        ``data`` is the training split (the data source's dataset); ``describe(i)`` names sample ``i`` for the user (its
        row in their file). The engine calls this once, so a sample the views cannot handle
        (a series shorter than a crop) is named before any step runs. Default: accept anything.
        """


class IdentityViews(ViewMaker):
    """Returns the input unchanged (for evaluation, or methods that make their own views)."""

    def augment(self, x: Any, i: int) -> Any:
        return x

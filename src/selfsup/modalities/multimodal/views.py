"""Views of paired data: each part's batch through its own modality's view maker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from selfsup.errors import SelfsupError
from selfsup.modalities.multimodal.data.source import PRESENT, PairedSpec
from selfsup.modalities.multimodal.encoders import part_components
from selfsup.registry import VIEWS


@VIEWS.register("paired", modality="multimodal",
                description="each part of paired data through its modality's views (default: that modality's "
                "default views; 'identity' to keep a part as it is)")
class PairedViews(nn.Module):
    """``views(batch, n)``: ``n`` paired batches whose part ``m`` is view ``i`` of the part's batch
    by the part's view maker, so the catalogue (SimCLR, VICReg …) trains on paired data unchanged
    (its views then differ in every part) and CLIP-style methods take one view of each part.

    Args:
        input_spec: the data's :class:`PairedSpec`.
        parts: part -> view maker name or ``{name: ..., options}``; default each modality's views.
    """

    def __init__(self, input_spec: PairedSpec, parts: dict[str, Any] | None = None) -> None:
        super().__init__()
        if not isinstance(input_spec, PairedSpec):
            raise SelfsupError("The paired views take paired data (a pairs.yaml or a built-in paired set).")
        chosen = part_components(input_spec, parts, section="views", default="default_views")
        makers = {name: VIEWS.build(c["name"], input_spec.spec(name), **{k: v for k, v in c.items() if k != "name"})
                  for name, c in chosen.items()}
        self.parts = nn.ModuleDict(makers)

    def forward(self, batch: dict[str, Any], n: int = 2) -> list[dict[str, Any]]:
        per_part = {}
        for name, maker in self.parts.items():
            part = batch["x"][name]
            made = maker(part, n)
            per_part[name] = [{**view, PRESENT: part[PRESENT]} if PRESENT in part else view for view in made]
        return [{**batch, "x": {name: views[i] for name, views in per_part.items()}} for i in range(n)]

    def check_data(self, data: Any, describe: Callable[[int], str]) -> None:
        for name, maker in self.parts.items():
            if hasattr(maker, "check_data") and hasattr(data, "parts"):
                maker.check_data(data.parts[name], lambda i, name=name: f"row {i} of part {name!r}")

"""What the paired methods share: one view of each part (or the parts as they are), their joint
embeddings and presence, the learnable temperature, and the configurable weight of each pair."""

from __future__ import annotations

from itertools import combinations
from typing import Any

from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.losses.clip import LearnableScale
from selfsup.methods.base import Method
from selfsup.modalities.multimodal.encoders import present


def pair_weights(names: list[str], weights: dict[str, float] | None) -> dict[tuple[str, str], float] | None:
    """``{"image-audio": 2.0}`` (a recipe's keys: two part names joined by ``-``) -> ``{(a, b): w}``;
    None keeps every pair at weight 1."""
    if not weights:
        return None
    pairs = {frozenset(p): p for p in combinations(names, 2)}
    out = {}
    for key, weight in dict(weights).items():
        parts = tuple(str(key).split("-"))
        if len(parts) != 2 or frozenset(parts) not in pairs:
            raise SelfsupError(f"method.weights key {key!r} is not a pair of parts 'a-b'; the pairs are "
                               f"{', '.join('-'.join(p) for p in pairs.values())}.")
        if not isinstance(weight, (int, float)) or weight < 0:
            raise SelfsupError(f"method.weights[{key!r}] must be a number >= 0, got {weight!r}.")
        out[pairs[frozenset(parts)]] = float(weight)
    if not any(out.get(p, 0.0) > 0 for p in pairs.values()) and len(out) == len(pairs):
        raise SelfsupError("method.weights sets every pair to 0: nothing would be learned.")
    return {p: out.get(p, 1.0) for p in pairs.values()}


class JointMethod(Method):
    """A method over the parts of paired data in the encoder's joint space.

    The encoder must have the paired encoder's ``joint`` / ``encode`` / ``project`` (the
    ``parts`` capability, which the multimodal modality provides); ``augment`` takes one view of
    each part per step through the part's view maker, else the parts as they come."""

    def __init__(self, encoder: nn.Module, views: nn.Module, temperature: float, max_scale: float = 100.0,
                 learn_temperature: bool = True, augment: bool = True, bias: float | None = None) -> None:
        super().__init__(encoder, views)
        if not all(hasattr(encoder, a) for a in ("encode", "project", "names")):
            raise SelfsupError(f"{type(self).__name__} pairs the parts of paired data: it needs the paired "
                               "encoder (data with parts: a pairs.yaml or a built-in paired set).")
        self.scale = LearnableScale(temperature, max_scale, bias=bias)
        if not learn_temperature:
            for parameter in self.scale.parameters():
                parameter.requires_grad_(False)
        self.augment = bool(augment)

    def inputs(self, batch: dict[str, Any]) -> dict[str, Any]:
        return self.views(batch, 1)[0]["x"] if self.augment else batch["x"]

    def presence(self, x: dict[str, Any], names: list[str]) -> dict[str, Tensor]:
        return {name: present(x, name) for name in names}

    def temperature_logs(self) -> dict[str, Tensor]:
        logs = {"temperature": (1.0 / self.scale()).detach()}
        if self.scale.bias is not None:
            logs["bias"] = self.scale.bias.detach()
        return logs

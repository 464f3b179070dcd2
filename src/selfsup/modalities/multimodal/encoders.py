"""The paired encoder: one encoder per part (each built by its own modality's registry name) and a
linear projection of each into one joint space, where the parts' embeddings can be compared."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.modalities.multimodal.data.source import PRESENT, PairedSpec
from selfsup.registry import ENCODERS


def part_components(input_spec: PairedSpec, parts: dict[str, Any] | None, section: str = "encoder",
                    default: str = "default_encoder") -> dict[str, dict[str, Any]]:
    """``{part: {"name": …, **options}}``: the recipe's per-part choices under ``<section>.parts``
    (an encoder or view maker name, or ``{name: …, options}``), each part without one getting its
    modality's ``default`` (``default_encoder`` / ``default_views``)."""
    from selfsup.modality import get_modality

    parts = dict(parts or {})
    unknown = sorted(set(parts) - set(input_spec.names))
    if unknown:
        raise SelfsupError(f"{section}.parts names {', '.join(map(repr, unknown))}, which the data does not have; "
                           f"its parts are {', '.join(input_spec.names)}.")
    chosen = {}
    for name in input_spec.names:
        given = parts.get(name) or {}
        if isinstance(given, str):
            given = {"name": given}
        if not isinstance(given, dict):
            raise SelfsupError(f"{section}.parts.{name} must be a name or {{name: ..., options}}; got {given!r}.")
        chosen[name] = {"name": given.get("name") or getattr(get_modality(input_spec.modality(name)), default),
                        **{k: v for k, v in given.items() if k != "name"}}
    return chosen


@ENCODERS.register("paired", modality="multimodal",
                   description="one encoder per part of paired data (each its modality's default unless named) "
                   "+ a linear map of each into a joint space; pooled output: the parts' embeddings concatenated")
class PairedEncoder(nn.Module):
    """Encoders of the parts of paired data, side by side.

    ``forward(x)`` (``x``: the paired batch's ``"x"``, part name -> the part's batch) returns the
    *fused* embedding: the parts' pooled embeddings concatenated ``[B, sum D_m]``, zeros where a
    sample lacks a part (what the probes of a paired run score). :meth:`encode` returns each part's
    embedding and :meth:`joint` each part's projection into the shared ``joint_dim`` space, where
    CLIP-style objectives compare them (CLIP's "learned linear projection from each encoder's
    representation to the multi-modal embedding space", Radford et al. 2021, Sec. 2.4).

    Args:
        input_spec: the data's :class:`PairedSpec`.
        parts: part -> encoder name or ``{name: ..., options}``; default each modality's encoder.
        joint_dim: size of the joint space (CLIP's ResNet-50 uses 1024; 128 here for CPU-sized parts).
    """

    def __init__(self, input_spec: PairedSpec, parts: dict[str, Any] | None = None, joint_dim: int = 128) -> None:
        super().__init__()
        if not isinstance(input_spec, PairedSpec):
            raise SelfsupError("The paired encoder takes paired data (a pairs.yaml or a built-in paired set).")
        if int(joint_dim) < 1:
            raise SelfsupError(f"joint_dim must be a positive integer, got {joint_dim}.")
        self.components = part_components(input_spec, parts)
        self.parts = nn.ModuleDict({
            name: ENCODERS.build(c["name"], input_spec.spec(name), **{k: v for k, v in c.items() if k != "name"})
            for name, c in self.components.items()
        })
        self.projections = nn.ModuleDict({
            name: nn.Linear(int(encoder.output_dim), int(joint_dim)) for name, encoder in self.parts.items()
        })
        self.joint_dim = int(joint_dim)
        self.output_dim = sum(int(encoder.output_dim) for encoder in self.parts.values())

    @property
    def names(self) -> list[str]:
        return list(self.parts)

    def encode(self, x: dict[str, Any]) -> dict[str, Tensor]:
        """part -> pooled embedding ``[B, D_m]`` of the part's batch (rows where the part is absent
        hold whatever its filler gave: mask them with :func:`present`)."""
        return {name: self.parts[name](x[name]["x"]) for name in self.parts if name in x}

    def project(self, h: dict[str, Tensor]) -> dict[str, Tensor]:
        """The parts' embeddings mapped into the joint space ``[B, joint_dim]``."""
        return {name: self.projections[name](value) for name, value in h.items()}

    def joint(self, x: dict[str, Any]) -> dict[str, Tensor]:
        return self.project(self.encode(x))

    def forward(self, x: dict[str, Any]) -> Tensor:
        h = self.encode(x)
        return torch.cat([value * present(x, name).to(value.dtype)[:, None] for name, value in h.items()], dim=1)


def present(x: dict[str, Any], name: str) -> Tensor:
    """``[B]`` bool: which rows of the paired batch ``x`` hold a sample of part ``name``."""
    part = x[name]
    if PRESENT in part:
        return part[PRESENT]
    some = next(iter(part.values()))
    return torch.ones(len(some), dtype=torch.bool, device=some.device)

"""The multimodal modality's spec: paired data of any landed modalities."""

from __future__ import annotations

from typing import Any

from selfsup.modalities.multimodal.data.pairs import read_pairs
from selfsup.modalities.multimodal.data.source import PairedSpec
from selfsup.modality import ModalitySpec, get_modality, register_modality

#: a series part's dilated CNN in paired data: at most this wide (every part runs each step)
PART_SERIES_WIDTH = {"hidden_dim": 32, "output_dim": 128}


def size_encoder(name: str, input_spec: PairedSpec, n_train: int) -> tuple[dict[str, Any], str]:
    """Each part's default encoder fitted to that part's data by its own modality (a series part of
    40 steps gets a small dilated CNN), as when the modality trains alone; a series part's dilated
    CNN is also at most 32 wide inside and 128 out, since every part runs each step (on
    ``synthetic_astro`` the full widths made a step 3x slower)."""
    if name != "paired":
        return {}, ""
    parts, said = {}, []
    for part in input_spec.names:
        modality = get_modality(input_spec.modality(part))
        if modality.size_encoder is None:
            continue
        options, why = modality.size_encoder(modality.default_encoder, input_spec.spec(part), n_train)
        if modality.default_encoder == "dilated_cnn":
            narrowed = {key: min(int(options.get(key, limit)), limit) for key, limit in PART_SERIES_WIDTH.items()}
            if any(options.get(key) != value for key, value in narrowed.items()):
                options = {**options, **narrowed}
                why = f"{why} As a part of paired data: hidden_dim={narrowed['hidden_dim']}, output_dim={narrowed['output_dim']}."
        if options:
            parts[part] = {"name": modality.default_encoder, **options}
            said.append(f"part {part}: {why}")
    return ({"parts": parts}, " ".join(said)) if parts else ({}, "")


SPEC = register_modality(
    ModalitySpec(
        name="multimodal",
        description="paired data: a pairs.yaml naming per-modality parts (each its own file and modality) "
        "aligned by sample id; each part batched, augmented and encoded by its own modality",
        read=read_pairs,
        default_encoder="paired",
        default_views="paired",
        input_spec_from_dict=PairedSpec.from_dict,
        encoders_for={"parts": "paired"},
        size_encoder=size_encoder,
    )
)

"""The image modality's spec: defaults, capabilities and evaluation protocol."""

from __future__ import annotations

from selfsup.modalities.image.data.arrays import read_images
from selfsup.modalities.image.data.hf import read_image_object
from selfsup.modalities.image.data.source import ImageSpec
from selfsup.modality import ModalitySpec, register_modality

SPEC = register_modality(
    ModalitySpec(
        name="image",
        description="a folder of images (class sub-folders = labels), or a .npy/.npz array",
        read=read_images,
        default_encoder="small_cnn",
        default_views="simclr",
        input_spec_from_dict=ImageSpec.from_dict,
        # MAE / JEPA need patch tokens: the ViT provides them
        encoders_for={"tokens": "vit_tiny"},
        views_for={"asymmetric": "byol", "multicrop": "multicrop", "rotation": "rotation"},
        extra="image",
        read_object=read_image_object,
    )
)

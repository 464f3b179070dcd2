"""Images: arrays and folders of image files (``uint8`` kept compact), the built-in ``digits``,
batched on-device augmentation (SimCLR/BYOL pipelines, multi-crop, rotations), and the
small CNN, ResNet and ViT encoders."""

from __future__ import annotations

# Importing the modules registers the modality's data sets, views and encoders.
from selfsup.modalities.image.data import arrays, fashion_mnist, folder  # noqa: F401
from selfsup.modalities.image.encoders import cnn, resnet, vit  # noqa: F401
from selfsup.modalities.image.spec import SPEC
from selfsup.modalities.image.views import augment, multicrop, rotation  # noqa: F401

__all__ = ["SPEC"]

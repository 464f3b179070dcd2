"""Time series and multi-device sensing: readers for arrays, CSV and UCR/UEA ``.ts`` files (aeon,
optional), the aeon-shipped UCR/UEA built-ins and a synthetic multi-device HAR set,
padding-aware views, 1-D encoders, and the methods written for series: TS2Vec, TS-TCC, CPC and
ColloSSL with their losses, and TOTEM's VQ-VAE tokeniser."""

from __future__ import annotations

# Importing the modules registers the modality's data sets, views, encoders and methods.
from selfsup.modalities.timeseries.data import multidevice, readers  # noqa: F401
from selfsup.modalities.timeseries.encoders import base, conv1d, patch_transformer, totem, tstcc_cnn  # noqa: F401
from selfsup.modalities.timeseries.methods import collossl, cpc, ts2vec, tstcc  # noqa: F401
from selfsup.modalities.timeseries.methods import totem as totem_method  # noqa: F401
from selfsup.modalities.timeseries.spec import SPEC
from selfsup.modalities.timeseries.views import augment, ops, ts2vec_crops  # noqa: F401

__all__ = ["SPEC"]

"""Discrete units for any modality: k-means codebooks fitted on an encoder's frames, patches or
tokens (``selfsup units fit``), unit sequences (``selfsup units encode``) and the measures of
unit quality (usage, perplexity, bitrate, purity, PNMI, bag-of-units accuracy).

The learned quantisers (VQ, Gumbel, product, residual, FSQ) are modules in
:mod:`selfsup.nn.quantizers`; this package works on frozen encoders.
"""

from __future__ import annotations

from selfsup.units.api import encode_units, fit_units, own_codebook, unit_metrics
from selfsup.units.codebook import Codebook, fit_kmeans, load_codebook

__all__ = ["Codebook", "encode_units", "fit_kmeans", "fit_units", "load_codebook", "own_codebook", "unit_metrics"]

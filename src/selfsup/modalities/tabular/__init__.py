"""Tables: CSV / Parquet / DataFrame readers with schema inference and train-only encoding, the
built-in UCI sets (Adult, LetterRecognition, Satellite, Shuttle) and a synthetic one, SCARF / VIME
/ swap-noise / Gaussian-noise views, the table MLP, and the methods written for tables (SCARF,
VIME).

A DataFrame in Python: ``selfsup.pretrain(data=table_source(frame, target="label"), ...)``.
"""

from __future__ import annotations

import pandas  # noqa: F401  - the modality needs it: without it the package is left out

# Importing the modules registers the modality's data sets, views, encoders and methods.
from selfsup.modalities.tabular import methods  # noqa: F401
from selfsup.modalities.tabular.data import builtins  # noqa: F401
from selfsup.modalities.tabular.data.batch import TabularBatch, TabularSpec
from selfsup.modalities.tabular.data.source import table_source
from selfsup.modalities.tabular.encoders import ft_transformer, mlp  # noqa: F401
from selfsup.modalities.tabular.spec import SPEC
from selfsup.modalities.tabular.views import corruption  # noqa: F401

__all__ = ["SPEC", "TabularBatch", "TabularSpec", "table_source"]

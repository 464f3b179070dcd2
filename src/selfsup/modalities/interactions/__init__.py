"""User–item interactions: CSV / Parquet / RecBole atomic files or a DataFrame
(:func:`interaction_data`), the built-ins ``ml-100k`` and ``synthetic_interactions``; ID
embeddings, LightGCN, DCCF's intent encoder and a two-tower MLP over user/item features; BPR-MF,
LightGCN, SGL, SimGCL, XSimGCL, NCL, DCCF, LightGCL, two-tower retrieval and two-tower SSL; the full-ranking
evaluation (:mod:`selfsup.eval.recommendation`).

A DataFrame in Python: ``selfsup.pretrain(data=interaction_data(frame, user_column="uid",
item_column="iid"), method="simgcl")``.
"""

from __future__ import annotations

import pandas  # noqa: F401  - the modality needs it: without it the package is left out

# Importing the modules registers the modality's data sets, encoders and methods.
from selfsup.modalities.interactions import methods  # noqa: F401
from selfsup.modalities.interactions.data import builtins  # noqa: F401
from selfsup.modalities.interactions.data.batch import InteractionBatch, InteractionSpec
from selfsup.modalities.interactions.data.readers import interaction_data
from selfsup.modalities.interactions.data.source import InteractionSource
from selfsup.modalities.interactions.encoders import lightgcn, two_tower  # noqa: F401
from selfsup.modalities.interactions.spec import SPEC

__all__ = ["SPEC", "InteractionBatch", "InteractionSource", "InteractionSpec", "interaction_data"]

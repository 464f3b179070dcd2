"""Event sequences: per-entity sequences of timestamped events with categorical and numeric
fields, read from a long-form CSV / Parquet table or a DataFrame; the built-ins
``ml-100k-sequences`` (MovieLens users) and ``synthetic_transactions``; CoLES random slices and
CL4SRec's crop / mask / reorder views; an event embedding followed by a GRU or a transformer;
and CoLES.

A DataFrame in Python: ``selfsup.pretrain(data=event_source(frame, entity="client", time="date",
target="segment"), method="coles")``.
"""

from __future__ import annotations

import pandas  # noqa: F401  - the modality needs it: without it the package is left out

# Importing the modules registers the modality's data sets, views, encoders and methods.
from selfsup.modalities.events import methods  # noqa: F401
from selfsup.modalities.events.data import builtins  # noqa: F401
from selfsup.modalities.events.data.batch import EventBatch, EventSpec
from selfsup.modalities.events.data.source import EventSource, event_source
from selfsup.modalities.events.encoders import sequence  # noqa: F401
from selfsup.modalities.events.spec import SPEC
from selfsup.modalities.events.views import augment, slices  # noqa: F401

__all__ = ["SPEC", "EventBatch", "EventSource", "EventSpec", "event_source"]

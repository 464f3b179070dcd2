"""The event-sequence modality's spec: defaults and capabilities."""

from __future__ import annotations

from selfsup.modalities.events.data.batch import EventSpec
from selfsup.modalities.events.data.readers import read_events
from selfsup.modality import ModalitySpec, register_modality

SPEC = register_modality(
    ModalitySpec(
        name="events",
        description="per-entity event sequences (transactions, clicks, ratings): a long-form CSV / Parquet "
        "(entity, time, fields…) or a pandas DataFrame (event_source)",
        read=read_events,
        default_encoder="event_gru",
        # CoLES's random slices: what the catalogue's two-view methods contrast here
        default_views="coles_slices",
        input_spec_from_dict=EventSpec.from_dict,
        extra="events",
    )
)

"""The tabular modality's spec: defaults and capabilities."""

from __future__ import annotations

from selfsup.modalities.tabular.data.batch import TabularSpec
from selfsup.modalities.tabular.data.readers import read_table
from selfsup.modality import ModalitySpec, register_modality

SPEC = register_modality(
    ModalitySpec(
        name="tabular",
        description="tables of numeric and categorical columns: CSV, Parquet (pyarrow), a pandas DataFrame "
        "(table_source)",
        read=read_table,
        default_encoder="tabular_mlp",
        default_views="scarf",
        input_spec_from_dict=TabularSpec.from_dict,
        # MAE / JEPA (T-JEPA) need tokens: one per column
        encoders_for={"tokens": "ft_transformer"},
        extra="tabular",
        # embed / evaluate encode new tables with the run's train statistics and categories
        reads_with_run_spec=True,
    )
)

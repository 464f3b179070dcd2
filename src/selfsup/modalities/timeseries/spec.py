"""The time-series modality's spec: defaults, capabilities and evaluation protocol."""

from __future__ import annotations

from selfsup.modalities.timeseries.data.readers import read_timeseries
from selfsup.modalities.timeseries.data.source import SeriesSpec
from selfsup.modality import ModalitySpec, register_modality


def size_encoder(name: str, input_spec: SeriesSpec, n_train: int) -> tuple[dict, str]:
    """The default ``dilated_cnn`` fitted to the series' length (TS2Vec's 11 blocks see ±4,094
    steps: on short series most of them cost time and see only padding)."""
    if name != "dilated_cnn":
        return {}, ""
    from selfsup.modalities.timeseries.encoders.base import size_dilated_cnn

    options = size_dilated_cnn(int(input_spec.length))
    said = ", ".join(f"{k}={v}" for k, v in options.items())
    return options, f"Encoder dilated_cnn sized to series of {input_spec.length} steps: {said}."

SPEC = register_modality(
    ModalitySpec(
        name="timeseries",
        description="series [N, T, C] or devices [N, D, T, C]: .npy/.npz arrays, CSV (long or "
        "wide form; a group key/column names devices), UCR/UEA .ts files",
        read=read_timeseries,
        default_encoder="dilated_cnn",
        default_views="ts_augment",
        input_spec_from_dict=SeriesSpec.from_dict,
        # MAE / JEPA need patch tokens: the patch transformer provides them
        encoders_for={"tokens": "patch_transformer", "sequence": "dilated_cnn"},
        # the published figures (TS2Vec, T-Loss, TS-TCC) use the RBF-SVM protocol
        svm_probe=True,
        extra="timeseries",
        size_encoder=size_encoder,
    )
)

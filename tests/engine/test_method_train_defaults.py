"""A method's own training defaults (``MethodInfo.default_train``) apply over its modality's, and
neither over what the recipe or the flags set."""

from __future__ import annotations

from selfsup.config import build_config
from selfsup.modality import get_modality
from selfsup.registry import METHODS


def test_simcse_takes_its_own_learning_rate_over_the_text_modality_one():
    text = get_modality("text").train_defaults
    simcse = METHODS.info("simcse").default_train
    assert simcse["lr"] != text["lr"]
    config = build_config(data="fortunes", method="simcse")
    assert config.train.lr == simcse["lr"]
    assert config.train.batch_size == text["batch_size"]  # the modality's, where the method sets none
    assert "lr" not in config.train.model_fields_set  # still a default, not a user's choice


def test_another_text_method_keeps_the_modality_default():
    assert build_config(data="fortunes", method="mlm").train.lr == get_modality("text").train_defaults["lr"]


def test_the_user_setting_wins_over_the_method_default():
    assert build_config(data="fortunes", method="simcse", overrides=["train.lr=0.002"]).train.lr == 0.002

"""Unit metrics against HuBERT's definitions and independent formulations (selfsup.units.metrics)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from selfsup.units.metrics import (
    bag_of_units_accuracy,
    bitrate,
    dedup,
    purity_and_pnmi,
    unit_histograms,
    usage_and_perplexity,
)


def test_pnmi_is_mutual_information_over_label_entropy():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 2000)
    codes = np.where(rng.random(2000) < 0.6, labels * 3, rng.integers(0, 20, 2000))
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    expected = mutual_info_score(labels, codes) / -(p * np.log(p)).sum()
    assert purity_and_pnmi(codes, labels)["pnmi"] == pytest.approx(expected, rel=1e-9)


def test_pnmi_is_one_when_units_determine_the_label_and_zero_when_independent():
    labels = np.repeat([0, 1, 2], 4)
    assert purity_and_pnmi(labels * 2 + np.tile([0, 1], 6), labels)["pnmi"] == pytest.approx(1.0)
    codes = np.tile([0, 1, 2, 3], 3)  # every label sees every unit equally often
    assert purity_and_pnmi(codes, labels)["pnmi"] == pytest.approx(0.0, abs=1e-12)


def test_phone_and_cluster_purity_on_a_hand_example():
    # unit 0: labels a, a, b   unit 1: labels b, b, b, c
    codes = np.array([0, 0, 0, 1, 1, 1, 1])
    labels = np.array([0, 0, 1, 1, 1, 1, 2])
    result = purity_and_pnmi(codes, labels)
    # phone purity: each unit labelled with its majority label -> (2 + 3) / 7 frames right
    assert result["phone_purity"] == pytest.approx(5 / 7)
    # cluster purity: each label's most frequent unit -> a: 2 of 2, b: 3 of 4, c: 1 of 1
    assert result["cluster_purity"] == pytest.approx((2 + 3 + 1) / 7)


def test_frames_without_a_label_are_left_out():
    codes, labels = np.array([0, 1, 1, 0]), np.array([0, 1, -1, -1])
    assert purity_and_pnmi(codes, labels)["phone_purity"] == 1.0


def test_usage_and_perplexity():
    assert usage_and_perplexity(np.array([3, 3, 3]), 8) == pytest.approx((1 / 8, 1.0))
    assert usage_and_perplexity(np.arange(4).repeat(3), 8) == pytest.approx((0.5, 4.0))


def test_dedup_merges_runs_and_keeps_their_lengths():
    values, lengths = dedup(np.array([5, 5, 2, 2, 2, 5]))
    assert values.tolist() == [5, 2, 5] and lengths.tolist() == [2, 3, 1]
    assert np.repeat(values, lengths).tolist() == [5, 5, 2, 2, 2, 5]


def test_bitrate_is_the_entropy_in_bits_per_frame_and_scales_with_the_frame_rate():
    codes = np.array([0, 0, 1, 1, 2, 2, 3, 3])  # uniform over 4 units: 2 bits a frame
    result = bitrate(codes, np.array([0, 8]), k=4, frame_rate=50.0)
    assert result["bits_per_frame"] == pytest.approx(2.0)
    assert result["bits_per_second"] == pytest.approx(100.0)
    # merged: 4 distinct units (2 bits each) for 8 frames -> 1 bit a frame
    assert result["dedup_bits_per_frame"] == pytest.approx(1.0)


def test_bag_of_units_separates_samples_whose_unit_histograms_differ():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 40)
    codes = np.concatenate([rng.choice(4, 30) + 4 * label for label in y])  # class 1 uses units 4..7
    offsets = np.arange(0, 30 * 80 + 1, 30)
    histograms = unit_histograms(codes, offsets, k=8)
    assert histograms.sum(1) == pytest.approx(np.ones(80))
    train = rng.random(80) < 0.5
    assert bag_of_units_accuracy(histograms, y, train) == 1.0
    assert bag_of_units_accuracy(histograms, y, np.zeros(80, bool)) is None


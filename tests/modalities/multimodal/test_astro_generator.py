"""The synthetic AstroM³-like generator: its arrays, its seeding, and its design claim that no
modality names the class alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from selfsup.errors import SelfsupError
from selfsup.modalities.multimodal.data.astro import (
    ASTRO_CLASSES,
    SURVEYS,
    light_curve_features,
    make_synthetic_astro,
    metadata_features,
)


@pytest.fixture(scope="module")
def stars() -> dict:
    return make_synthetic_astro(n=1500, seed=3)


def test_shapes_and_dtypes():
    data = make_synthetic_astro(n=60, seed=0, n_obs=40, n_wave=32)
    assert data["light_curve"].shape == (60, 40, 3) and data["light_curve"].dtype == np.float32
    assert data["spectrum"].shape == (60, 32) and data["spectrum"].dtype == np.float32
    assert data["y"].shape == (60,) and data["y"].dtype == np.int64
    assert data["class_names"] == list(ASTRO_CLASSES)
    metadata = data["metadata"]
    assert isinstance(metadata, pd.DataFrame) and len(metadata) == 60
    categorical = [c for c in metadata.columns if isinstance(metadata[c].dtype, pd.CategoricalDtype)]
    assert categorical == ["survey"] and set(metadata["survey"]) <= set(SURVEYS)
    numeric = metadata.drop(columns="survey")
    assert numeric.shape[1] >= 3 and all(np.issubdtype(t, np.floating) for t in numeric.dtypes)
    for array in (data["light_curve"], data["spectrum"], numeric.to_numpy()):
        assert np.isfinite(array).all()
    assert (data["light_curve"][..., 2] > 0).all()  # magnitude errors


def test_spectrum_is_normalised_flux():
    spectrum = make_synthetic_astro(n=60, seed=0)["spectrum"]
    np.testing.assert_allclose(spectrum.mean(axis=1), 1.0, atol=0.05)


def test_same_seed_gives_same_data():
    first, second = make_synthetic_astro(n=120, seed=7), make_synthetic_astro(n=120, seed=7)
    for key in ("light_curve", "spectrum", "y"):
        np.testing.assert_array_equal(first[key], second[key])
    pd.testing.assert_frame_equal(first["metadata"], second["metadata"])


def test_different_seeds_give_different_data():
    first, second = make_synthetic_astro(n=120, seed=7), make_synthetic_astro(n=120, seed=8)
    for key in ("light_curve", "spectrum", "y"):
        assert not np.array_equal(first[key], second[key])
    assert not first["metadata"].equals(second["metadata"])


@pytest.mark.parametrize("n", [6, 100, 1501])
def test_classes_are_balanced(n):
    counts = np.bincount(make_synthetic_astro(n=n, seed=0, n_obs=10, n_wave=16)["y"],
                         minlength=len(ASTRO_CLASSES))
    assert counts.sum() == n and counts.max() - counts.min() <= 1


def test_times_are_sorted_irregular_and_seasonal(stars):
    times = stars["light_curve"][..., 0].astype(np.float64)
    gaps = np.diff(times, axis=1)
    assert (gaps >= 0).all()
    # irregular: gaps from same-night revisits (under 0.1 day) to seasonal breaks (over 60 days)
    assert (gaps.std(axis=1) > gaps.mean(axis=1)).all()
    assert ((gaps < 0.1).any(axis=1) & (gaps > 60).any(axis=1)).all()


@pytest.mark.parametrize("arguments, named", [
    ({"n": 5}, "n >= 6"),
    ({"n_obs": 9}, "n_obs >= 10"),
    ({"n_wave": 15}, "n_wave >= 16"),
])
def test_bad_arguments_raise_selfsup_error(arguments, named):
    with pytest.raises(SelfsupError, match=named):
        make_synthetic_astro(**arguments)


def _probe_predictions(features: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return probe.fit(features[train], y[train]).predict(features[test]), y[test]


@pytest.fixture(scope="module")
def probes(stars) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    light_curve = light_curve_features(stars["light_curve"])
    spectrum = stars["spectrum"].astype(np.float64)
    metadata = metadata_features(stars["metadata"])
    modalities = {"light_curve": light_curve, "spectrum": spectrum, "metadata": metadata,
                  "fused": np.concatenate([light_curve, spectrum, metadata], axis=1)}
    return {name: _probe_predictions(x, stars["y"]) for name, x in modalities.items()}


def test_fused_probe_beats_every_single_modality_by_ten_points(probes):
    accuracy = {name: float((predicted == true).mean()) for name, (predicted, true) in probes.items()}
    chance = 1 / len(ASTRO_CLASSES)
    for name in ("light_curve", "spectrum", "metadata"):
        assert 2 * chance < accuracy[name] <= accuracy["fused"] - 0.10, accuracy
    assert accuracy["fused"] >= 0.85, accuracy


def test_light_curve_errors_stay_within_a_family(probes):
    # the light curve sees the family (class // 2) and misses the population (class % 2)
    predicted, true = probes["light_curve"]
    wrong = predicted != true
    assert (predicted[wrong] // 2 == true[wrong] // 2).mean() >= 0.8


def test_spectrum_errors_stay_within_a_population(probes):
    predicted, true = probes["spectrum"]
    wrong = predicted != true
    assert (predicted[wrong] % 2 == true[wrong] % 2).mean() >= 0.8

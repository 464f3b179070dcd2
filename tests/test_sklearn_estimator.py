"""selfsup.sklearn.SelfSupervised: a scikit-learn transformer around selfsup.pretrain."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from selfsup.sklearn import SelfSupervised

TINY = ("method.projector_hidden_dim=16", "method.projector_dim=8")


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(0).normal(size=(80, 6)).astype(np.float32)


@pytest.fixture(scope="module")
def fitted(rows):
    return SelfSupervised(epochs=1, batch_size=16, overrides=TINY).fit(rows)


def test_fit_transform_gives_one_embedding_per_row(fitted, rows):
    out = fitted.transform(rows[:7])
    assert out.shape == (7, fitted.embedding_dim_) and out.dtype == np.float32
    assert fitted.n_features_in_ == 6
    # rows embed alone as in a batch (the table is encoded with the training statistics)
    assert np.allclose(fitted.transform(rows[3:4]), out[3:4], atol=1e-5)


def test_params_round_trip_and_clone_is_unfitted():
    model = SelfSupervised(method="byol", epochs=3)
    assert model.get_params()["method"] == "byol" and model.get_params()["epochs"] == 3
    assert model.set_params(method="vicreg").method == "vicreg"
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "run_files_")


def test_a_pickled_estimator_transforms_the_same(fitted, rows):
    again = pickle.loads(pickle.dumps(fitted))
    assert np.array_equal(again.transform(rows[:5]), fitted.transform(rows[:5]))


def test_transform_before_fit_and_wrong_width_are_sklearns_errors(fitted, rows):
    with pytest.raises(NotFittedError):
        SelfSupervised().transform(rows)
    with pytest.raises(ValueError, match="features"):
        fitted.transform(rows[:, :4])


def test_rows_reshape_to_images_and_a_wrong_shape_is_said():
    x = load_digits().data[:64] / 16
    with pytest.raises(ValueError, match=r"input_shape \[7, 7\] holds 49 values, but X has 64"):
        SelfSupervised(modality="image", input_shape=(7, 7), epochs=1).fit(x)


@pytest.mark.slow
def test_pipeline_and_grid_search_over_method_on_digits():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x[:600] / 16, y[:600], random_state=0, stratify=y[:600])
    # embeddings of a briefly trained encoder are small (std ~1e-3 after 2 steps): scale them before the
    # probe, as selfsup's own linear probe does
    pipeline = Pipeline([
        ("ssl", SelfSupervised(modality="image", input_shape=(8, 8), epochs=4)),
        ("scale", StandardScaler()),
        ("probe", LogisticRegression(max_iter=2000)),
    ])
    pipeline.fit(x_train, y_train)
    assert pipeline.score(x_test, y_test) > 0.6  # 10 classes: chance is 0.1
    search = GridSearchCV(pipeline, {"ssl__method": ["simclr", "vicreg"]}, cv=2)
    search.fit(x_train, y_train)
    assert search.best_params_["ssl__method"] in ("simclr", "vicreg")
    assert len(search.cv_results_["mean_test_score"]) == 2


@pytest.mark.slow
def test_passes_scikit_learns_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    # every check applies; array-API input is skipped by scikit-learn itself unless SCIPY_ARRAY_API is set
    results = check_estimator(SelfSupervised(epochs=1, overrides=TINY), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) >= 40

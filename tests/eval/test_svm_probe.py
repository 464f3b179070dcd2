"""The RBF-SVM probe of TS2Vec's protocol: C chosen by cross-validation on the train split."""

import math

import numpy as np
import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.eval import evaluate_embeddings, svm_probe
from selfsup.eval.svm import SVM_C_GRID


def _blobs(n_per_class, classes=3, dim=4, spread=0.6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(classes, dim))
    x = np.concatenate([c + spread * rng.normal(size=(n_per_class, dim)) for c in centres])
    y = np.repeat(np.arange(classes), n_per_class)
    return x, y


def test_matches_sklearn_grid_search_written_independently():
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    x, y = _blobs(30, spread=2.5)
    xt, yt = _blobs(20, spread=2.5, seed=1)
    got = svm_probe(x, y, xt, yt)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = [cross_val_score(SVC(C=c, gamma="scale"), x, y, cv=folds).mean() for c in SVM_C_GRID]
    best = SVM_C_GRID[int(np.argmax(scores))]  # first best, as GridSearchCV breaks ties
    expected = SVC(C=best, gamma="scale").fit(x, y).score(xt, yt)
    assert got["C"] == best
    assert got["accuracy"] == pytest.approx(expected)


def test_small_train_split_fits_the_hard_margin_svm():
    # 4 samples per class < 5 folds: the protocol fits C = inf directly
    x, y = _blobs(4)
    got = svm_probe(x, y, x, y)
    assert math.isinf(got["C"])
    assert got["accuracy"] == 1.0


def test_separable_blobs_are_classified_and_f1_is_reported():
    x, y = _blobs(40)
    xt, yt = _blobs(40, seed=0)
    got = svm_probe(torch.tensor(x), torch.tensor(y), torch.tensor(xt), torch.tensor(yt))
    assert got["accuracy"] > 0.95 and got["macro_f1"] > 0.95


def test_single_training_class_predicts_it():
    x = np.random.default_rng(0).normal(size=(10, 3))
    got = svm_probe(x, np.zeros(10, int), x, np.r_[np.zeros(5, int), np.ones(5, int)])
    assert got["accuracy"] == 0.5


def test_dimension_mismatch_is_one_clear_error():
    with pytest.raises(SelfsupError, match="dimensions"):
        svm_probe(np.zeros((6, 3)), [0, 1] * 3, np.zeros((2, 4)), [0, 1])


def test_suite_adds_svm_keys_only_when_asked():
    x, y = _blobs(20)
    assert "svm_acc" not in evaluate_embeddings(x, y, x, y)
    scores = evaluate_embeddings(x, y, x, y, svm=True)
    assert scores["svm_acc"] == 1.0 and scores["svm_f1"] == 1.0


def test_c_is_chosen_on_a_stratified_subset_and_fitted_on_everything():
    from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
    from sklearn.svm import SVC

    x, y = _blobs(60, spread=2.5)  # 180 training samples, C chosen on 60 of them
    xt, yt = _blobs(20, spread=2.5, seed=1)
    got = svm_probe(x, y, xt, yt, cv_max=60)
    sub_x, _, sub_y, _ = train_test_split(x, y, train_size=60, stratify=y, random_state=0)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = [cross_val_score(SVC(C=c, gamma="scale"), sub_x, sub_y, cv=folds).mean() for c in SVM_C_GRID]
    best = SVM_C_GRID[int(np.argmax(scores))]
    assert got["cv_samples"] == 60 and got["C"] == best
    # the chosen C is refitted on all 180 samples, not on the 60
    assert got["accuracy"] == pytest.approx(SVC(C=best, gamma="scale").fit(x, y).score(xt, yt))
    assert svm_probe(x, y, xt, yt)["cv_samples"] == 180  # below the default cap: every sample

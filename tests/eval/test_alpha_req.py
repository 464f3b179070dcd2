"""α-ReQ recovers the power-law exponent of a known covariance spectrum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfsup.eval import alpha_req, alpha_req_score, evaluate_embeddings


def _power_law_embeddings(alpha: float, n: int = 20000, d: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    eigenvalues = np.arange(1, d + 1, dtype=np.float64) ** -alpha
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (rng.standard_normal((n, d)) * np.sqrt(eigenvalues)) @ rotation.T + 3.0


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_alpha_req_recovers_the_power_law_exponent(alpha):
    assert alpha_req(_power_law_embeddings(alpha)) == pytest.approx(alpha, abs=0.05)


def test_alpha_req_is_zero_for_white_features_and_score_peaks_at_one():
    assert abs(alpha_req(_power_law_embeddings(0.0))) < 0.05
    assert alpha_req_score(_power_law_embeddings(1.0)) > alpha_req_score(_power_law_embeddings(2.0))
    assert alpha_req_score(_power_law_embeddings(1.0)) > alpha_req_score(_power_law_embeddings(0.3))


def test_alpha_req_ignores_numerically_zero_eigenvalues():
    rank_two = _power_law_embeddings(1.0, n=500, d=2) @ np.random.default_rng(1).standard_normal((2, 16))
    assert math.isnan(alpha_req(np.ones((50, 8))))  # constant features: nothing to fit
    # 14 of the 16 eigenvalues are round-off; the fit uses the two real ones only.
    alpha = alpha_req(rank_two)
    eigenvalues = np.linalg.eigvalsh(np.cov(rank_two.T))[::-1][:2]
    assert alpha == pytest.approx(-np.log(eigenvalues[1] / eigenvalues[0]) / np.log(2), rel=1e-6)


def test_suite_reports_alpha_req():
    emb = _power_law_embeddings(1.0, n=300)
    assert "alpha_req" in evaluate_embeddings(emb, None, None, None)

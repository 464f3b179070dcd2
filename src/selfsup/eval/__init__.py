"""Evaluation of frozen embeddings and the run report.

- :func:`knn_accuracy` — weighted kNN (Wu et al. 2018); :func:`linear_probe_accuracy` /
  :func:`linear_probe` — logistic regression on standardised embeddings; :func:`svm_probe` —
  TS2Vec's RBF SVM with C chosen by cross-validation.
- :func:`rankme`, :func:`alpha_req`, :func:`embedding_std`, :func:`collapse_ratio`, :func:`alignment`,
  :func:`uniformity` — label-free scores.
- :func:`embed_tensor` and :func:`evaluate_embeddings` — embed with a frozen encoder, score all.
- :func:`write_report` and :func:`read_metrics_csv` — the self-contained HTML report.
"""

from __future__ import annotations

from selfsup.eval.knn import knn_accuracy, knn_predict
from selfsup.eval.label_free import (
    alignment,
    alpha_req,
    alpha_req_score,
    collapse_ratio,
    embedding_std,
    rankme,
    uniformity,
)
from selfsup.eval.linear import linear_probe, linear_probe_accuracy
from selfsup.eval.report import read_metrics_csv, write_report
from selfsup.eval.suite import embed_loader, embed_tensor, evaluate_embeddings, move_to
from selfsup.eval.svm import svm_probe

__all__ = [
    "alignment",
    "alpha_req",
    "alpha_req_score",
    "collapse_ratio",
    "embed_loader",
    "move_to",
    "embed_tensor",
    "embedding_std",
    "evaluate_embeddings",
    "knn_accuracy",
    "knn_predict",
    "linear_probe",
    "linear_probe_accuracy",
    "rankme",
    "read_metrics_csv",
    "svm_probe",
    "uniformity",
    "write_report",
]

r"""How good a set of discrete units is: codebook usage and perplexity, bitrate, purity and PNMI
against frame labels, and utterance-level accuracy from bags of units.

Purity and PNMI follow HuBERT (Hsu et al. 2021, Section IV-C, "Cluster quality"): with the
joint distribution :math:`p_{yz}(i, j)` of frame label :math:`y` and unit :math:`z` counted
over frames,

.. math::
    \text{phone purity} = \mathbb{E}_{p_z(j)}\big[\max_i p_{y|z}(i \mid j)\big], \qquad
    \text{cluster purity} = \mathbb{E}_{p_y(i)}\big[\max_j p_{z|y}(j \mid i)\big],

.. math::
    \text{PNMI} = \frac{I(y; z)}{H(y)} =
        \frac{\sum_{i,j} p_{yz}(i,j) \log \frac{p_{yz}(i,j)}{p_y(i) p_z(j)}}{-\sum_i p_y(i) \log p_y(i)}.

Phone purity is the frame accuracy of labelling each unit with its most frequent label; PNMI is
the share of the label's uncertainty the units remove (1: the unit tells the label). With
sample labels repeated over frames (no frame labels) they measure how much a single frame's
unit says about its sample's class.
"""

from __future__ import annotations

import itertools

import numpy as np


def usage_and_perplexity(codes: np.ndarray, k: int) -> tuple[float, float]:
    """``(share of the k units used at least once, exp(entropy of the unit frequencies))``."""
    counts = np.bincount(codes.ravel(), minlength=k).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float((counts > 0).mean()), float(np.exp(-(p * np.log(p)).sum()))


def bitrate(codes: np.ndarray, offsets: np.ndarray, k: int, frame_rate: float | None = None) -> dict[str, float]:
    """Bits per frame (the entropy of the unit distribution in bits, at most ``log2 k``) and,
    after merging repeats within each sample, bits per frame of the de-duplicated stream
    (entropy of the merged units times their share of frames). With ``frame_rate`` (frames per
    second) both are also given in bits per second, as speech-unit papers report them."""
    _, perplexity = usage_and_perplexity(codes, k)
    merged = [dedup(codes[a:b])[0] for a, b in itertools.pairwise(offsets)]
    merged = np.concatenate(merged) if merged else codes[:0]
    _, merged_perplexity = usage_and_perplexity(merged, k)
    result = {"bits_per_frame": float(np.log2(perplexity)),
              "dedup_bits_per_frame": float(np.log2(merged_perplexity) * len(merged) / max(len(codes), 1))}
    if frame_rate is not None:
        result["bits_per_second"] = result["bits_per_frame"] * frame_rate
        result["dedup_bits_per_second"] = result["dedup_bits_per_frame"] * frame_rate
    return result


def dedup(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge runs of the same unit: ``[5, 5, 2, 2, 2, 5] -> ([5, 2, 5], run lengths [2, 3, 1])``."""
    if len(units) == 0:
        return units, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]])
    return units[starts], np.diff(np.r_[starts, len(units)]).astype(np.int64)


def purity_and_pnmi(codes: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """HuBERT's phone purity, cluster purity and PNMI of units ``codes [M]`` against labels
    ``[M]``; frames labelled ``-1`` are left out (see the module docstring)."""
    known = labels >= 0
    codes, labels = codes[known], labels[known]
    if len(codes) == 0:
        return {}
    _, y = np.unique(labels, return_inverse=True)
    _, z = np.unique(codes, return_inverse=True)
    joint = np.zeros((y.max() + 1, z.max() + 1))
    np.add.at(joint, (y, z), 1.0)
    joint /= joint.sum()
    p_y, p_z = joint.sum(1), joint.sum(0)
    nonzero = joint > 0
    mutual = (joint[nonzero] * np.log(joint[nonzero] / np.outer(p_y, p_z)[nonzero])).sum()
    entropy_y = -(p_y * np.log(p_y)).sum()
    return {
        "phone_purity": float(joint.max(0).sum()),  # sum_j p_z(j) max_i p(i|j) = sum_j max_i p(i,j)
        "cluster_purity": float(joint.max(1).sum()),
        "pnmi": float(mutual / entropy_y) if entropy_y > 0 else 1.0,
    }


def unit_histograms(codes: np.ndarray, offsets: np.ndarray, k: int) -> np.ndarray:
    """``[N, k]``: each sample's unit frequencies (a bag of units, rows sum to 1)."""
    sample = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    counts = np.zeros((len(offsets) - 1, k))
    np.add.at(counts, (sample, codes), 1.0)
    return counts / np.maximum(counts.sum(1, keepdims=True), 1.0)


def bag_of_units_accuracy(histograms: np.ndarray, y: np.ndarray, train: np.ndarray, seed: int = 0) -> float | None:
    """Accuracy of a logistic regression on unit histograms, fitted on the rows where ``train``
    is True and scored on the others; None when either side is empty or has one class."""
    from sklearn.linear_model import LogisticRegression

    test = ~train
    if train.sum() == 0 or test.sum() == 0 or len(np.unique(y[train])) < 2:
        return None
    # histograms are frequencies in [0, 1]: standardising them keeps the default C meaningful
    mean, std = histograms[train].mean(0), histograms[train].std(0) + 1e-6
    probe = LogisticRegression(max_iter=2000, random_state=seed)
    probe.fit((histograms[train] - mean) / std, y[train])
    return float(probe.score((histograms[test] - mean) / std, y[test]))

"""A units codebook: ``k`` centroids in an encoder's frame space, saved as safetensors + json.

``codebook.safetensors`` holds ``centroids [k, dim]``; ``codebook.json`` beside it (same stem)
says where the frames come from (``run``, ``layer``, ``modality``, ``data``), how the centroids
were made (``kind``: ``kmeans``, or ``own`` for a model's own quantiser such as TOTEM's) and the
unit metrics measured when it was fitted. A frame's unit is its nearest centroid (squared
Euclidean distance), as in HuBERT's k-means targets and in a VQ layer.

k-means is scikit-learn's ``MiniBatchKMeans`` with HuBERT's settings (Hsu et al. 2021, and its
released ``learn_kmeans.py``: k-means++ init, batches of 10,000, 100 iterations, no
reassignment; 3 initialisations instead of its 20, for time), or faiss's k-means when faiss is
installed (much faster on millions of frames).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from selfsup.errors import SelfsupError


@dataclass
class Codebook:
    """``centroids [k, dim]`` and where they come from (see the module docstring)."""

    centroids: np.ndarray
    run: str
    layer: int | None
    modality: str
    data: str
    kind: str = "kmeans"
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[1])

    def assign(self, features: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """Nearest centroid of each row of ``features [M, dim]`` -> int64 ``[M]``."""
        centroids = torch.from_numpy(self.centroids).float()
        squared = centroids.pow(2).sum(1)
        parts = [(squared - 2 * block @ centroids.T).argmin(1)  # ||x||^2 is the same for every centroid
                 for block in torch.from_numpy(np.ascontiguousarray(features)).float().split(chunk)]
        return torch.cat(parts).numpy().astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def describe(self) -> dict[str, Any]:
        facts = {k: v for k, v in asdict(self).items() if k != "centroids"}
        return {"k": self.k, "dim": self.dim, **facts}

    def save(self, path: str | Path) -> Path:
        """Write ``<stem>.safetensors`` and ``<stem>.json``; returns the safetensors path."""
        weights = Path(path).with_suffix(".safetensors")
        weights.parent.mkdir(parents=True, exist_ok=True)
        save_file({"centroids": np.ascontiguousarray(self.centroids, dtype=np.float32)}, str(weights))
        weights.with_suffix(".json").write_text(json.dumps(self.describe(), indent=2) + "\n")
        return weights


def load_codebook(path: str | Path) -> Codebook:
    """A codebook written by :meth:`Codebook.save`, from its ``.safetensors`` or ``.json`` path."""
    path = Path(path)
    weights, meta = path.with_suffix(".safetensors"), path.with_suffix(".json")
    for needed in (weights, meta):
        if not needed.is_file():
            raise SelfsupError(f"{needed} does not exist: a codebook is the .safetensors + .json pair "
                               "written by `selfsup units fit`.")
    try:
        facts = json.loads(meta.read_text())
        centroids = load_file(str(weights))["centroids"]
        codebook = Codebook(centroids=centroids, run=facts["run"], layer=facts.get("layer"),
                            modality=facts["modality"], data=facts.get("data", ""),
                            kind=facts.get("kind", "kmeans"), metrics=facts.get("metrics", {}))
    except (OSError, json.JSONDecodeError, SafetensorError, KeyError, TypeError) as err:
        raise SelfsupError(f"{path} is not a readable codebook ({type(err).__name__}: {err}).") from None
    if centroids.ndim != 2 or facts.get("dim", centroids.shape[1]) != centroids.shape[1]:
        raise SelfsupError(f"{weights}: centroids of shape {list(centroids.shape)} do not match {meta} "
                           f"(k={facts.get('k')}, dim={facts.get('dim')}).")
    return codebook


def fit_kmeans(features: np.ndarray, k: int, seed: int = 0, max_frames: int = 200_000) -> np.ndarray:
    """``[k, dim]`` k-means centroids of ``features [M, dim]`` (at most ``max_frames`` random rows)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise SelfsupError(f"--k must be a whole number >= 2; got {k!r}.")
    if len(features) < k:
        raise SelfsupError(f"--k {k} needs at least {k} frames; the data gives {len(features)}. "
                           "Lower --k or use more data.")
    rng = np.random.default_rng(seed)
    if len(features) > max_frames:
        features = features[rng.choice(len(features), max_frames, replace=False)]
    features = np.ascontiguousarray(features, dtype=np.float32)
    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        kmeans = faiss.Kmeans(features.shape[1], k, niter=100, seed=seed, verbose=False)
        kmeans.train(features)
        return np.asarray(kmeans.centroids, dtype=np.float32)
    from sklearn.cluster import MiniBatchKMeans

    kmeans = MiniBatchKMeans(n_clusters=k, init="k-means++", batch_size=10_000, max_iter=100,
                             n_init=3, max_no_improvement=100, reassignment_ratio=0.0, random_state=seed)
    kmeans.fit(features)
    return kmeans.cluster_centers_.astype(np.float32)

"""selfsup as a scikit-learn transformer: ``fit(X)`` pretrains an encoder, ``transform(X)`` embeds.

::

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from selfsup.sklearn import SelfSupervised

    model = make_pipeline(SelfSupervised(method="simclr", modality="image", input_shape=(8, 8)),
                          LogisticRegression(max_iter=1000))
    model.fit(X_train, y_train)          # X: [n_samples, 64] rows of 8x8 images in [0, 1]

``X`` is what scikit-learn passes around: a 2-D array ``[n_samples, n_features]``. Without
``input_shape`` its rows are table rows (the ``tabular`` modality); with ``input_shape`` each row
is reshaped to one sample of ``modality`` (``(8, 8)`` or ``(1, 8, 8)`` an image, ``(T, C)`` a
series). ``y`` is accepted and ignored: pretraining is self-supervised, so a ``Pipeline`` passes
its labels to the classifier only.

``fit`` is one :func:`selfsup.pretrain` run (every default of the library, the given method,
encoder, ``epochs`` or ``time_budget``, and ``overrides`` as on the CLI's ``--set``), without the
final evaluation next to a random-init encoder and the raw inputs (a scikit-learn user scores the
pipeline). The run folder lives in a temporary folder unless ``run_dir`` names one; the fitted
estimator keeps the run's small files (weights, ``encoder.json``, ``config.yaml``) in memory, so it
pickles and clones like any estimator. ``transform`` reads ``X`` as the run reads data (a table with
the training split's statistics) and embeds it in batches.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

#: the run's files that transform needs (the rest — checkpoints, report — is not kept)
RUN_FILES = ("config.yaml", "encoder.json", "encoder.safetensors")
#: the final evaluation a scikit-learn user does not need (their pipeline is scored instead)
NO_FINAL_BASELINES = ("eval.every_n_epochs=0", "eval.random_init=false", "eval.raw_input=false")


class SelfSupervised(TransformerMixin, BaseEstimator):
    """Self-supervised pretraining as a scikit-learn transformer (see the module doc).

    Args:
        method: a selfsup method (``selfsup methods``).
        modality: what each row holds; None: ``tabular`` without ``input_shape``, else ``image``.
        input_shape: the shape one row is reshaped to (``(8, 8)``: 8×8 images), or None for table rows.
        encoder: an encoder name; None: the modality's default, sized to the data.
        epochs: training epochs; None: sized to the data (or spent by ``time_budget``).
        time_budget: train for this long instead (``"2m"``, ``90``); evaluation excluded.
        batch_size: None: the library's default, shrunk to fit a small data set.
        seed: the run's seed (a seeded CPU run is reproducible).
        overrides: ``key=value`` settings as the CLI's ``--set`` (``("method.temperature=0.2",)``).
        run_dir: keep the run folder here (overwritten at each fit); None: a temporary folder.

    Attributes:
        embedding_dim_: the width of ``transform``'s output.
        n_features_in_: the number of columns ``fit`` saw.
        run_files_: the run's weights and descriptions (what ``transform`` loads).
    """

    def __init__(self, method: str = "simclr", modality: str | None = None, input_shape: Sequence[int] | None = None,
                 encoder: str | None = None, epochs: int | None = None, time_budget: str | float | None = None,
                 batch_size: int | None = None, seed: int = 0, overrides: Sequence[str] = (),
                 run_dir: str | None = None) -> None:
        self.method = method
        self.modality = modality
        self.input_shape = input_shape
        self.encoder = encoder
        self.epochs = epochs
        self.time_budget = time_budget
        self.batch_size = batch_size
        self.seed = seed
        self.overrides = overrides
        self.run_dir = run_dir

    def _modality(self) -> str:
        return self.modality or ("tabular" if self.input_shape is None else "image")

    def _as_samples(self, X: np.ndarray) -> np.ndarray:
        """Rows -> what the modality's reader takes (``[N, *input_shape]``, or the rows of a table)."""
        if self.input_shape is None:
            return X
        shape = tuple(int(s) for s in self.input_shape)
        if int(np.prod(shape)) != X.shape[1]:
            raise ValueError(f"input_shape {list(shape)} holds {int(np.prod(shape))} values, but X has "
                             f"{X.shape[1]} features per row.")
        return X.reshape(X.shape[0], *shape)

    def fit(self, X: Any, y: Any = None) -> SelfSupervised:
        """Pretrain on the rows of ``X`` (``y`` is ignored: the training is self-supervised)."""
        import selfsup

        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        flags: dict[str, Any] = {"method": self.method, "modality": self._modality(), "seed": self.seed}
        for key in ("encoder", "epochs", "time_budget", "batch_size"):
            if getattr(self, key) is not None:
                flags[key] = getattr(self, key)
        overrides = [*NO_FINAL_BASELINES, *self.overrides]
        with tempfile.TemporaryDirectory(prefix="selfsup-fit-") as folder:
            out = Path(self.run_dir) if self.run_dir is not None else Path(folder) / "run"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # sizing notes: recorded in the run, not printed
                result = selfsup.pretrain(data=self._as_samples(X), out=str(out), overwrite=True, progress=False,
                                          overrides=overrides, **flags)
            self.run_files_ = {name: (out / name).read_bytes() for name in RUN_FILES}
        self.embedding_dim_ = int(result.encoder.output_dim)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embeddings ``[n_samples, embedding_dim_]`` of the rows of ``X`` (float32)."""
        from selfsup.finished import embed

        check_is_fitted(self, "run_files_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        with tempfile.TemporaryDirectory(prefix="selfsup-transform-") as folder:
            for name, content in self.run_files_.items():
                (Path(folder) / name).write_bytes(content)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return embed(folder, self._as_samples(X)).astype(np.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False  # a seeded CPU run is reproducible
        tags.transformer_tags.preserves_dtype = ["float32"]  # embeddings are float32, whatever X was
        return tags
